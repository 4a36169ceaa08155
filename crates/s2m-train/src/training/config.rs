//! Every hyper-parameter of the prompt generator's training in one place,
//! with detectron2's defaults (`config/defaults.py`) and the paper's solver
//! (REFERENCE.md, "Training the prompt generator") where they apply, and
//! the configuration of the generator we ship.

use s2m_core::detector::{BackboneConfig, DetectorConfig};

use super::step::TrainingExample;

/// The generator we train and ship: detectron2's layout on a ResNet-18 of
/// a quarter of the usual widths (stem and res2 16 channels, FPN 64, box
/// head 256: 1.8 M parameters, 7.1 MB in f32), input normalised for
/// energy scores (mean -8, std 5: the synthesiser's energy background lies
/// near -15..-9, anomalies near -3..4), anchors of 16..256 px so that
/// objects from 8 px to half a 512-wide frame have anchors of their size.
pub fn small_generator_config() -> DetectorConfig {
    DetectorConfig {
        backbone: BackboneConfig {
            stem_out_channels: 16,
            res2_out_channels: 16,
            fpn_out_channels: 64,
            ..BackboneConfig::resnet18()
        },
        pixel_mean: [-8.0; 3],
        pixel_std: [5.0; 3],
        anchor_sizes: [16.0, 32.0, 64.0, 128.0, 256.0],
        box_head_fc_dim: 256,
        ..DetectorConfig::default()
    }
}

/// [`small_generator_config`] with its input normalised for the scores
/// of `examples` (another scorer's maps than the energy maps it assumes):
/// their mean and standard deviation over all pixels (1 when the maps are
/// constant). They travel in the weights' metadata.
pub fn small_generator_config_for(examples: &[TrainingExample]) -> DetectorConfig {
    let (mut count, mut sum, mut squares) = (0usize, 0f64, 0f64);
    for v in examples.iter().flat_map(|e| &e.values) {
        count += 1;
        sum += f64::from(*v);
        squares += f64::from(*v) * f64::from(*v);
    }
    let mean = sum / count.max(1) as f64;
    let std = (squares / count.max(1) as f64 - mean * mean)
        .max(0.0)
        .sqrt();
    DetectorConfig {
        pixel_mean: [mean as f32; 3],
        pixel_std: [if std > 0.0 { std as f32 } else { 1.0 }; 3],
        ..small_generator_config()
    }
}

/// Configuration of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingConfig {
    /// Anchors sampled per image for the RPN loss.
    pub rpn_anchors_per_image: usize,
    pub rpn_positive_fraction: f32,
    /// Proposals kept per level before NMS while training.
    pub rpn_pre_nms_top_k: usize,
    /// Proposals kept after NMS while training.
    pub rpn_post_nms_top_k: usize,
    /// Proposals sampled per image for the box head loss.
    pub rois_per_image: usize,
    pub roi_positive_fraction: f32,
    pub images_per_batch: usize,
    pub base_learning_rate: f64,
    pub momentum: f64,
    pub weight_decay: f32,
    /// Iterations of linear warm-up from `warmup_factor * base`.
    pub warmup_iterations: usize,
    pub warmup_factor: f64,
    /// Iterations after which the learning rate is multiplied by `gamma`.
    pub decay_steps: Vec<usize>,
    pub gamma: f64,
    pub max_iterations: usize,
    /// Shorter sides a training map is resized to, one drawn per map
    /// (detectron2 `INPUT.MIN_SIZE_TRAIN`); empty keeps the map's size.
    pub min_sizes: Vec<usize>,
    /// The longer side's limit after resizing (`INPUT.MAX_SIZE_TRAIN`).
    pub max_size: usize,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            rpn_anchors_per_image: 256,
            rpn_positive_fraction: 0.5,
            rpn_pre_nms_top_k: 2000,
            rpn_post_nms_top_k: 1000,
            rois_per_image: 512,
            roi_positive_fraction: 0.25,
            images_per_batch: 4,
            base_learning_rate: 0.0025,
            momentum: 0.9,
            weight_decay: 1e-4,
            warmup_iterations: 1000,
            warmup_factor: 0.001,
            decay_steps: Vec::new(),
            gamma: 0.1,
            max_iterations: 90_000,
            min_sizes: Vec::new(),
            max_size: 1333,
        }
    }
}

impl TrainingConfig {
    /// The learning rate at `iteration` (0-based): linear warm-up, then
    /// step decay (detectron2 `WarmupMultiStepLR`).
    pub fn learning_rate(&self, iteration: usize) -> f64 {
        let warmup = if iteration < self.warmup_iterations {
            let alpha = iteration as f64 / self.warmup_iterations as f64;
            self.warmup_factor * (1.0 - alpha) + alpha
        } else {
            1.0
        };
        let decays = self.decay_steps.iter().filter(|&&s| iteration >= s).count();
        self.base_learning_rate * warmup * self.gamma.powi(decays as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_warms_up_then_decays() {
        let config = TrainingConfig {
            base_learning_rate: 0.01,
            warmup_iterations: 100,
            decay_steps: vec![1000, 2000],
            ..TrainingConfig::default()
        };
        assert!((config.learning_rate(0) - 0.01 * 0.001).abs() < 1e-12);
        assert!((config.learning_rate(50) - 0.01 * 0.5005).abs() < 1e-12);
        assert!((config.learning_rate(500) - 0.01).abs() < 1e-12);
        assert!((config.learning_rate(1500) - 0.001).abs() < 1e-12);
        assert!((config.learning_rate(2500) - 0.0001).abs() < 1e-12);
    }

    #[test]
    fn input_normalisation_follows_the_maps() {
        let map = |values: Vec<f32>| TrainingExample {
            height: 1,
            width: values.len(),
            values,
            boxes: vec![],
            classes: vec![],
        };
        let config = small_generator_config_for(&[map(vec![1.0, 3.0]), map(vec![1.0, 3.0])]);
        assert_eq!((config.pixel_mean, config.pixel_std), ([2.0; 3], [1.0; 3]));
        assert_eq!(
            DetectorConfig {
                pixel_mean: [-8.0; 3],
                pixel_std: [5.0; 3],
                ..config
            },
            small_generator_config()
        );
        let flat = small_generator_config_for(&[map(vec![0.5; 4])]);
        assert_eq!((flat.pixel_mean, flat.pixel_std), ([0.5; 3], [1.0; 3]));
    }
}
