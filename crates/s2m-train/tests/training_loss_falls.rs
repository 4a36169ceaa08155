//! A unit-test-sized training run (issue #4): a small detector on tiny
//! score maps with one bright object each; the total loss must fall.

use burn::optim::SgdConfig;
use burn::optim::momentum::MomentumConfig;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use s2m_core::detector::{BackboneConfig, Detector, DetectorConfig, ResNetDepth};
use s2m_train::training::{TrainingConfig, TrainingExample, train_step};

/// A `h x w` map of low scores with one high-score rectangle.
fn example(seed: u64, h: usize, w: usize) -> TrainingExample {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    use rand::Rng;
    let (bw, bh) = (
        rng.random_range(12..32) as f32,
        rng.random_range(12..32) as f32,
    );
    let (x0, y0) = (
        rng.random_range(0.0..w as f32 - bw),
        rng.random_range(0.0..h as f32 - bh),
    );
    let (x0, y0) = (x0.floor(), y0.floor());
    let values = (0..h * w)
        .map(|i| {
            let (y, x) = ((i / w) as f32, (i % w) as f32);
            let inside = x >= x0 && x < x0 + bw && y >= y0 && y < y0 + bh;
            if inside {
                1.0
            } else {
                rng.random_range(-0.1..0.1)
            }
        })
        .collect();
    TrainingExample {
        height: h,
        width: w,
        values,
        boxes: vec![[x0, y0, x0 + bw, y0 + bh]],
        classes: vec![0],
    }
}

/// A small detector for tiny maps.
fn tiny_config() -> DetectorConfig {
    DetectorConfig {
        backbone: BackboneConfig {
            depth: ResNetDepth::R18,
            stem_out_channels: 8,
            res2_out_channels: 8,
            width_per_group: 8,
            fpn_out_channels: 16,
        },
        pixel_mean: [0.0; 3],
        pixel_std: [1.0; 3],
        anchor_sizes: [8.0, 16.0, 32.0, 64.0, 128.0],
        box_head_fc_dim: 32,
        rpn_pre_nms_top_k: 200,
        rpn_post_nms_top_k: 100,
        ..DetectorConfig::default()
    }
}

fn tiny_training() -> TrainingConfig {
    TrainingConfig {
        rpn_anchors_per_image: 64,
        rois_per_image: 64,
        images_per_batch: 2,
        ..TrainingConfig::default()
    }
}

#[test]
fn the_loss_falls_over_a_few_iterations() {
    let device = Device::flex().autodiff();
    let training = tiny_training();
    let mut detector = Detector::new(tiny_config(), &device);
    let mut optimizer = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .init();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let batch: Vec<TrainingExample> = (0..2).map(|s| example(s, 64, 96)).collect();
    let mut totals = Vec::new();
    for _ in 0..25 {
        let (updated, losses) =
            train_step(detector, &mut optimizer, &batch, 0.01, &training, &mut rng).unwrap();
        detector = updated;
        eprintln!("{losses:?}");
        assert!(losses.total().is_finite(), "{losses:?}");
        totals.push(losses.total());
    }
    let first = totals[..3].iter().sum::<f32>() / 3.0;
    let last = totals[totals.len() - 3..].iter().sum::<f32>() / 3.0;
    eprintln!("total loss: first {first:.3}, last {last:.3}");
    assert!(
        last < 0.7 * first,
        "loss did not fall: {first:.3} -> {last:.3}"
    );
}

/// A trained generator's bytes load back, with its settings, into a
/// detector that finds what the trained one finds.
#[test]
fn a_saved_generator_loads_back_with_its_settings() {
    use s2m_core::weights::{detector_config_of, load_detector};
    use s2m_train::training::checkpoint::generator_bytes;
    use s2m_train::training::config::small_generator_config;

    let device = Device::flex();
    let detector = Detector::new(small_generator_config(), &device);
    let bytes = generator_bytes(&detector, 0).unwrap();
    let config = detector_config_of(&bytes, "generator.safetensors").unwrap();
    assert_eq!(config, small_generator_config());
    let loaded = load_detector(&config, bytes, "generator.safetensors", &device).unwrap();
    let map = example(11, 128, 256);
    let run = |d: &Detector| {
        let score_map = burn::tensor::Tensor::<2>::from_data(
            burn::tensor::TensorData::new(map.values.clone(), [map.height, map.width]),
            &device,
        );
        pollster::block_on(d.detect(score_map)).unwrap()
    };
    assert_eq!(run(&loaded), run(&detector));
}

/// A checkpoint resumes on an autodiff device with its iteration count,
/// and the resumed generator trains (its parameters receive gradients).
#[test]
fn a_checkpoint_resumes_training() {
    use s2m_train::training::checkpoint::{generator_bytes, resume};
    use s2m_train::training::config::small_generator_config;

    let device = Device::flex().autodiff();
    let detector = Detector::new(small_generator_config(), &device);
    let bytes = generator_bytes(&detector, 1234).unwrap();
    let (resumed, iterations) = resume(bytes, "generator.safetensors", &device).unwrap();
    assert_eq!(iterations, 1234);
    assert_eq!(resumed.config, small_generator_config());
    let before = resumed
        .roi_heads
        .box_predictor
        .cls_score
        .weight
        .val()
        .into_data();
    let training = TrainingConfig {
        rpn_anchors_per_image: 64,
        rois_per_image: 64,
        images_per_batch: 1,
        ..TrainingConfig::default()
    };
    let mut optimizer = SgdConfig::new().init();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let batch = vec![example(3, 128, 256)];
    let (trained, losses) =
        train_step(resumed, &mut optimizer, &batch, 0.01, &training, &mut rng).unwrap();
    assert!(losses.total().is_finite());
    let after = trained
        .roi_heads
        .box_predictor
        .cls_score
        .weight
        .val()
        .into_data();
    assert_ne!(before, after, "the resumed generator did not train");
}

/// Training runs on wgpu too: from the same initial weights and the same
/// sampling, the first step's losses match the CPU's.
#[test]
fn a_training_step_on_wgpu_matches_the_cpu() {
    use burn::module::Module;
    use s2m_core::device::{Backend, open_device};

    let wgpu = match open_device(Backend::Wgpu) {
        Ok(device) => device.autodiff(),
        Err(e) if std::env::var_os("S2M_REQUIRE_WGPU").is_some() => panic!("{e}"),
        Err(e) => {
            eprintln!("skipping: {e}");
            return;
        }
    };
    let cpu = Device::flex().autodiff();
    let initial = Detector::new(tiny_config(), &cpu);
    let batch: Vec<TrainingExample> = (0..2).map(|s| example(s, 64, 96)).collect();
    let step = |detector: Detector| {
        let mut optimizer = SgdConfig::new().init();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        train_step(
            detector,
            &mut optimizer,
            &batch,
            0.01,
            &tiny_training(),
            &mut rng,
        )
        .unwrap()
        .1
    };
    let on_cpu = step(initial.clone());
    let on_wgpu = step(initial.to_device(&wgpu));
    eprintln!("cpu {on_cpu:?}\nwgpu {on_wgpu:?}");
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-3 * a.abs().max(1.0);
    assert!(
        close(on_cpu.total(), on_wgpu.total()),
        "{on_cpu:?} vs {on_wgpu:?}"
    );
    assert!(close(on_cpu.rpn_objectness, on_wgpu.rpn_objectness));
    assert!(close(on_cpu.roi_class, on_wgpu.roi_class));
}
