//! The whole pipeline on synthetic scenes (issue #5, "Done when"): our
//! shipped prompt generator and MobileSAM on road images with pasted
//! objects whose masks are known, the score map being what a scorer would
//! give for them (the score-map synthesiser's map of the same objects).
//!
//! A scene (`s2m_train::scene`) is a synthesised energy map (the
//! generator's training domain) whose objects are complete and at least
//! 24 px, and the road picture into which each object is pasted in a
//! colour of its own.
//! Mean IoU of the pipeline's mask against the union of the objects' masks
//! over the scenes with objects must reach 0.8; a scene without objects
//! must give an empty mask.
//!
//! Needs MobileSAM's converted weights and the shipped generator
//! (`cargo xtask weights`).

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use s2m_core::pipeline::{Pipeline, PipelineConfig};
use s2m_core::sam::SamConfig;
use s2m_core::weights::{detector_config_of, load_detector, load_sam};
use s2m_train::scene::{road_picture, scene_config};
use s2m_train::synthesis::{SynthesisConfig, SyntheticMap, synthesize};

const SAM_WEIGHTS: &str = "mobile_sam.f32.safetensors";
const GENERATOR_WEIGHTS: &str = "s2m_generator.f16.safetensors";
/// Scenes with objects, and their seeds (far from training and validation
/// seeds: training draws below 2^62, validation from 2^62 up).
const SCENES: u64 = 8;
const SEEDS: u64 = 0xE2E0_0000;

fn weights_dir() -> PathBuf {
    std::env::var_os("S2M_WEIGHTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../weights"))
}

fn read_weights(name: &str) -> Vec<u8> {
    let path = weights_dir().join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask weights` first", path.display()))
}

fn pipeline(device: &Device) -> Pipeline {
    let generator = read_weights(GENERATOR_WEIGHTS);
    let config = detector_config_of(&generator, GENERATOR_WEIGHTS).unwrap();
    Pipeline {
        generator: load_detector(&config, generator, GENERATOR_WEIGHTS, device).unwrap(),
        sam: load_sam(
            &SamConfig::mobile_sam(),
            read_weights(SAM_WEIGHTS),
            SAM_WEIGHTS,
            device,
        )
        .unwrap(),
        config: PipelineConfig::default(),
    }
}

/// Scene settings (256x512, objects of 24 px and up) with `count_weights`.
fn scenes(count_weights: Vec<f32>) -> SynthesisConfig {
    let mut config = scene_config(256, 512, 24);
    config.objects.count_weights = count_weights;
    config
}

fn iou(predicted: &[bool], truth: &[bool]) -> f32 {
    let (mut inter, mut union) = (0usize, 0usize);
    for (p, t) in predicted.iter().zip(truth) {
        inter += (*p && *t) as usize;
        union += (*p || *t) as usize;
    }
    if union == 0 {
        1.0
    } else {
        inter as f32 / union as f32
    }
}

#[test]
fn scenes_with_objects_reach_mean_iou_0_8_and_an_empty_scene_stays_empty() {
    let device = Device::flex();
    let pipeline = pipeline(&device);
    let run = |map: &SyntheticMap| {
        let image = Tensor::<3>::from_data(
            TensorData::new(
                road_picture(map).into_iter().map(f32::from).collect(),
                [map.height, map.width, 3],
            ),
            &device,
        );
        let score_map = Tensor::<2>::from_data(
            TensorData::new(map.values.clone(), [map.height, map.width]),
            &device,
        );
        pollster::block_on(pipeline.segment(image, score_map)).unwrap()
    };

    // One to four objects per scene.
    let with_objects = scenes(vec![0.0, 0.4, 0.3, 0.2, 0.1]);
    let mut ious = Vec::new();
    for k in 0..SCENES {
        let map = synthesize(&with_objects, SEEDS + k).unwrap();
        let truth: Vec<bool> = map.instances.iter().map(|&i| i > 0).collect();
        let result = run(&map);
        let scene_iou = iou(&result.mask(), &truth);
        eprintln!(
            "scene {k}: {} objects, {} boxes, IoU {scene_iou:.3}",
            map.objects.len(),
            result.detections.len()
        );
        ious.push(scene_iou);
    }
    let mean = ious.iter().sum::<f32>() / ious.len() as f32;
    eprintln!("mean IoU over {SCENES} scenes: {mean:.3}");
    assert!(mean >= 0.8, "mean IoU {mean:.3} < 0.8: {ious:?}");

    let empty = synthesize(&scenes(vec![1.0]), SEEDS + SCENES).unwrap();
    assert!(empty.objects.is_empty());
    let result = run(&empty);
    assert!(
        result.detections.is_empty() && result.mask().iter().all(|m| !m),
        "an object-free scene gave {} boxes",
        result.detections.len()
    );
}
