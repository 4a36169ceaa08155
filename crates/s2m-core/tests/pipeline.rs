//! The pipeline's own rules (REFERENCE.md, "The pipeline", items 4-5) with
//! the real MobileSAM: the confidence map keeps the lowest score of the
//! masks covering a pixel, no box gives an all-zero map, boxes return in
//! image pixels whatever size the generator saw, bad shapes are errors.
//! The end-to-end test with our trained generator is in `segment_scenes.rs`.
//!
//! Needs the converted weights: `cargo xtask weights`.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::{devices, to_vec, weights_bytes};
use s2m_core::detector::{Detection, Detector, DetectorConfig};
use s2m_core::pipeline::{Pipeline, PipelineConfig, PipelineError};
use s2m_core::sam::SamConfig;
use s2m_core::weights::load_sam;

const SAM_WEIGHTS: &str = "mobile_sam.f32.safetensors";

fn pipeline(device: &Device, config: PipelineConfig) -> Pipeline {
    Pipeline {
        generator: Detector::new(DetectorConfig::r18_fpn(), device),
        sam: load_sam(
            &SamConfig::mobile_sam(),
            weights_bytes(SAM_WEIGHTS),
            SAM_WEIGHTS,
            device,
        )
        .unwrap(),
        config,
    }
}

/// A grey road with a red square whose top-left quarter is orange.
fn scene(width: usize, height: usize) -> Vec<f32> {
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let noise = ((x * 7 + y * 13) % 17) as f32 - 8.0;
            let rgb = if (160..240).contains(&x) && (100..180).contains(&y) {
                if x < 200 && y < 140 {
                    [235.0, 160.0, 30.0]
                } else {
                    [170.0, 25.0, 25.0]
                }
            } else {
                [100.0 + noise, 100.0 + noise, 105.0 + noise]
            };
            pixels.extend_from_slice(&rgb);
        }
    }
    pixels
}

fn detection(bbox: [f32; 4], score: f32) -> Detection {
    Detection {
        bbox,
        score,
        class: 0,
    }
}

#[test]
fn overlapping_masks_keep_the_lowest_score_and_no_box_gives_an_empty_map() {
    let (width, height) = (320, 240);
    let detections = [
        detection([150.0, 90.0, 250.0, 190.0], 0.9),
        detection([155.0, 95.0, 205.0, 145.0], 0.6),
        detection([20.0, 20.0, 60.0, 50.0], 0.3),
    ];
    for (backend, device) in devices() {
        let image = Tensor::<3>::from_data(
            TensorData::new(scene(width, height), [height, width, 3]),
            &device,
        );
        // The rule on the host, from each box's own mask.
        let boxes: Vec<[f32; 4]> = detections.iter().map(|d| d.bbox).collect();
        let mut pipeline = pipeline(&device, PipelineConfig::default());
        let masks = to_vec(pipeline.sam.masks_for_boxes(image.clone(), &boxes));
        let n = width * height;
        let expected: Vec<f32> = (0..n)
            .map(|i| {
                detections
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| masks[k * n + i] > 0.0)
                    .map(|(_, d)| d.score)
                    .fold(0.0f32, |low, s| if low == 0.0 { s } else { low.min(s) })
            })
            .collect();
        // Both scores occur: the small box's mask lies inside the big one's.
        assert!(expected.contains(&0.9) && expected.contains(&0.6));
        for masks_per_batch in [1, 2, 8] {
            pipeline.config.masks_per_batch = masks_per_batch;
            let embedded = pipeline.embed(image.clone()).unwrap();
            let confidence =
                pollster::block_on(pipeline.confidence(&embedded, &detections)).unwrap();
            let differ = confidence
                .iter()
                .zip(&expected)
                .filter(|(a, b)| a != b)
                .count();
            // Logits within rounding of 0 may fall either side in a batch.
            eprintln!("{backend}, {masks_per_batch} per batch: {differ} pixels differ");
            assert!(
                differ <= n / 10_000,
                "{backend}: {differ} pixels differ from the lowest-score rule"
            );
            let empty = pollster::block_on(pipeline.confidence(&embedded, &[])).unwrap();
            assert_eq!(empty, vec![0.0; n]);
        }
    }
}

#[test]
fn boxes_come_back_in_image_pixels_at_any_generator_size() {
    let device = Device::flex();
    let (h, w) = (96, 144);
    let map: Vec<f32> = (0..h * w)
        .map(|i| {
            let (y, x) = ((i / w) as f32, (i % w) as f32);
            if (30.0..60.0).contains(&y) && (40.0..90.0).contains(&x) {
                150.0
            } else {
                0.0
            }
        })
        .collect();
    let score_map = || Tensor::<2>::from_data(TensorData::new(map.clone(), [h, w]), &device);
    let mut plain = pipeline(&device, PipelineConfig::default());
    // Random weights score near chance: keep every detection, so that each
    // map size has boxes to compare whatever the draw.
    plain.generator.config.test_score_threshold = 0.0;
    let direct = pollster::block_on(plain.generator.detect(score_map())).unwrap();
    assert!(!direct.is_empty(), "the random generator found no box");
    // A map of half the image's size: boxes scale by two.
    let scaled = pollster::block_on(plain.boxes(score_map(), (2 * h, 2 * w))).unwrap();
    assert_eq!(scaled.len(), direct.len());
    for (s, d) in scaled.iter().zip(&direct) {
        assert_eq!(s.score, d.score);
        for k in 0..4 {
            assert!((s.bbox[k] - 2.0 * d.bbox[k]).abs() < 1e-3);
        }
    }
    // The generator at twice the map's size: its boxes halve back to the
    // image's pixels, and lie inside the image.
    let doubled = Pipeline {
        config: PipelineConfig {
            generator_short_side: Some(2 * h),
            ..PipelineConfig::default()
        },
        ..plain
    };
    let boxes = pollster::block_on(doubled.boxes(score_map(), (h, w))).unwrap();
    assert!(!boxes.is_empty());
    for d in &boxes {
        assert!(d.bbox[0] >= 0.0 && d.bbox[2] <= w as f32 + 1e-3, "{d:?}");
        assert!(d.bbox[1] >= 0.0 && d.bbox[3] <= h as f32 + 1e-3, "{d:?}");
    }
}

#[test]
fn bad_shapes_are_errors() {
    let device = Device::flex();
    let pipeline = pipeline(&device, PipelineConfig::default());
    let rgba = Tensor::<3>::zeros([8, 8, 4], &device);
    assert!(matches!(
        pipeline.embed(rgba),
        Err(PipelineError::ImageShape([8, 8, 4]))
    ));
    let empty = Tensor::<2>::zeros([0, 8], &device);
    let error = pollster::block_on(pipeline.boxes(empty, (8, 8))).unwrap_err();
    assert!(
        matches!(error, PipelineError::EmptyScoreMap(0, 8)),
        "{error}"
    );
}
