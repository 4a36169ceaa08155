//! The prompt generator against `tests/reference/detector_reference.py`
//! (a detectron2-layout Faster R-CNN built in PyTorch with torchvision's
//! `roi_align(aligned=True)` and `batched_nms`, float64, random weights,
//! reduced widths): detectron2-format checkpoints (`{"model": ...}`)
//! converted by s2m-weights, loaded, and run on a 200x300 score map with
//! blob-shaped anomalies, on the CPU and on wgpu.
//!
//! Tolerances (issue #3): FPN features relative L2 < 1e-4; the same RPN
//! proposals and the same final detections, coordinates within 1e-2 px and
//! scores within 1e-4.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use s2m_core::detector::{Detection, Detector, DetectorConfig, ResNetDepth};
use s2m_core::weights::{detector_config_of, load_detector};
use s2m_weights::StorageDType;
use s2m_weights::checkpoint::NamedTensor;
use s2m_weights::convert::{convert_checkpoint, to_safetensors_bytes};
use s2m_weights::key_map::official_to_ours;

/// Converts `detector_<name>_tiny.pth` and loads it with the configuration
/// inferred from its tensor shapes.
fn load_reference_detector(name: &str, device: &Device) -> Detector {
    let dir = std::env::temp_dir().join(format!("s2m-detector-{name}-{}", std::process::id()));
    let model = format!("detector_{name}_tiny");
    let entries =
        convert_checkpoint(&fixture_path(&format!("{model}.pth")), &dir, Some(&model)).unwrap();
    let f32_file = entries
        .iter()
        .find(|e| e.name.ends_with(".f32.safetensors"))
        .unwrap();
    let bytes = std::fs::read(dir.join(&f32_file.name)).unwrap();
    let config = detector_config_of(&bytes, &f32_file.name).unwrap();
    load_detector(&config, bytes, &f32_file.name, device).unwrap()
}

fn boxes_of(values: &[f32]) -> Vec<[f32; 4]> {
    values
        .chunks_exact(4)
        .map(|b| [b[0], b[1], b[2], b[3]])
        .collect()
}

fn max_coordinate_diff(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check_config(name: &str) {
    let (_, device) = devices().remove(0);
    let detector = load_reference_detector(name, &device);
    let c = &detector.config;
    let (depth, stem, res2, fpn) = match name {
        "r50" => (ResNetDepth::R50, 8, 16, 8),
        _ => (ResNetDepth::R18, 4, 4, 8),
    };
    assert_eq!(c.backbone.depth, depth);
    assert_eq!(c.backbone.stem_out_channels, stem);
    assert_eq!(c.backbone.res2_out_channels, res2);
    assert_eq!(c.backbone.fpn_out_channels, fpn);
    assert_eq!(
        (c.box_head_fc_dim, c.num_classes, c.roi_pooler_resolution),
        (32, 2, 7)
    );
    assert!(c.replicate_score_map);
}

fn check_parity(name: &str) {
    let fx = Fixture::open("detector_parity.safetensors");
    let key = |k: &str| format!("{name}.{k}");
    let (map_shape, map) = fx.f32s(&key("score_map"));
    let (height, width) = (map_shape[0], map_shape[1]);
    for (backend, device) in devices() {
        let detector = load_reference_detector(name, &device);
        let score_map =
            Tensor::<2>::from_data(TensorData::new(map.clone(), [height, width]), &device);

        let features = detector.features(score_map.clone()).unwrap();
        for (level, feature) in features.iter().enumerate() {
            let (shape, expected) = fx.f32s(&key(&format!("p{}", level + 2)));
            assert_eq!(feature.dims().to_vec(), shape, "{name} P{}", level + 2);
            let actual = feature.clone().into_data().try_to_vec::<f32>().unwrap();
            let error = relative_l2(&actual, &expected);
            eprintln!("{name} {backend:?} P{}: relative L2 {error:.2e}", level + 2);
            assert!(
                error < 1e-4,
                "{name} {backend:?} P{}: {error:.2e}",
                level + 2
            );
        }

        let proposals = pollster::block_on(detector.proposals(&features, (height, width))).unwrap();
        let expected_boxes = boxes_of(&fx.f32s(&key("rpn_proposals")).1);
        let expected_logits = fx.f32s(&key("rpn_objectness")).1;
        assert_eq!(
            proposals.boxes.len(),
            expected_boxes.len(),
            "{name} {backend:?}: proposals"
        );
        let mut worst = (0.0f32, 0.0f32);
        for (i, (b, logit)) in expected_boxes.iter().zip(&expected_logits).enumerate() {
            // Near-equal logits may swap places: look a few ranks around.
            let found = (i.saturating_sub(3)..(i + 4).min(proposals.boxes.len())).find(|&j| {
                max_coordinate_diff(&proposals.boxes[j], b) < 1e-2
                    && (proposals.objectness_logits[j] - logit).abs() < 1e-3
            });
            let j = found.unwrap_or_else(|| {
                panic!(
                    "{name} {backend:?}: proposal {i} {b:?} (logit {logit}) not found near rank {i}"
                )
            });
            worst.0 = worst.0.max(max_coordinate_diff(&proposals.boxes[j], b));
            worst.1 = worst.1.max((proposals.objectness_logits[j] - logit).abs());
        }
        eprintln!(
            "{name} {backend:?}: proposals max box diff {:.1e} px, logit diff {:.1e}",
            worst.0, worst.1
        );

        let detections = pollster::block_on(detector.detect(score_map)).unwrap();
        check_detections(name, backend, &detections, &fx);
    }
}

fn check_detections(
    name: &str,
    backend: s2m_core::device::Backend,
    detections: &[Detection],
    fx: &Fixture,
) {
    let key = |k: &str| format!("{name}.{k}");
    let boxes = boxes_of(&fx.f32s(&key("boxes")).1);
    let scores = fx.f32s(&key("scores")).1;
    let classes = fx.i64s(&key("classes"));
    assert_eq!(
        detections.len(),
        boxes.len(),
        "{name} {backend:?}: detections"
    );
    let mut worst = (0.0f32, 0.0f32);
    for ((b, score), class) in boxes.iter().zip(&scores).zip(&classes) {
        let d = detections
            .iter()
            .find(|d| d.class as i64 == *class && max_coordinate_diff(&d.bbox, b) < 1e-2)
            .unwrap_or_else(|| panic!("{name} {backend:?}: detection {b:?} class {class} missing"));
        worst.0 = worst.0.max(max_coordinate_diff(&d.bbox, b));
        worst.1 = worst.1.max((d.score - score).abs());
        assert!(
            (d.score - score).abs() < 1e-4,
            "{name} {backend:?}: score {} vs {score}",
            d.score
        );
    }
    eprintln!(
        "{name} {backend:?}: {} detections, max box diff {:.1e} px, score diff {:.1e}",
        detections.len(),
        worst.0,
        worst.1
    );
}

#[test]
fn r50_configuration_is_inferred_from_the_checkpoint() {
    check_config("r50");
}

#[test]
fn r18_configuration_is_inferred_from_the_checkpoint() {
    check_config("r18");
}

#[test]
fn r50_matches_the_pytorch_reference() {
    check_parity("r50");
}

#[test]
fn r18_matches_the_pytorch_reference() {
    check_parity("r18");
}

/// The full-size detectron2 R50-FPN names and shapes (written by the
/// reference script from the real layout) load into the paper's default
/// configuration with nothing missing or left over.
#[test]
fn full_size_r50_fpn_checkpoint_layout_loads_into_the_default_config() {
    let shapes: Vec<(String, Vec<usize>)> =
        serde_json::from_slice(&std::fs::read(fixture_path("detector_r50_shapes.json")).unwrap())
            .unwrap();
    let tensors: Vec<NamedTensor> = shapes
        .iter()
        .filter_map(|(name, shape)| {
            official_to_ours(name).map(|ours| NamedTensor {
                name: ours,
                shape: shape.clone(),
                data: vec![0.0; shape.iter().product()],
            })
        })
        .collect();
    let inferred = DetectorConfig::from_tensor_shapes(
        tensors
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice())),
    )
    .unwrap();
    assert_eq!(inferred, DetectorConfig::r50_fpn());
    let bytes = to_safetensors_bytes(&tensors, StorageDType::F32).unwrap();
    load_detector(
        &DetectorConfig::r50_fpn(),
        bytes,
        "r50 layout",
        &Device::flex(),
    )
    .unwrap();
}
