//! Training the prompt generator on synthesised score maps (issue #4):
//! every iteration draws fresh maps from the synthesiser (training seeds),
//! augments them and takes an SGD step; validation runs the generator in
//! inference mode on maps of seeds training never draws.

use burn::module::Module;
use burn::optim::SgdConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use s2m_core::detector::{Detector, DetectorConfig, DetectorError};

use super::augment::augment;
use super::config::TrainingConfig;
use super::resize::resize_shortest_edge;
use super::step::{Losses, TrainingExample, train_step};
use super::validation::{ValidationMap, ValidationMetrics, validate};
use crate::synthesis::{SynthesisConfig, SynthesisError, SyntheticMap, synthesize};

/// Seeds at or above this are reserved for validation maps.
pub const VALIDATION_SEEDS: u64 = 1 << 62;

/// The smallest object side validation counts (issue #4: 32x32 px).
pub const VALIDATION_MIN_SIDE: f32 = 32.0;

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error(transparent)]
    Synthesis(#[from] SynthesisError),
    #[error(transparent)]
    Detector(#[from] DetectorError),
}

/// A training example of a synthetic map: every object is class 0.
pub fn example_of(map: SyntheticMap) -> TrainingExample {
    TrainingExample {
        height: map.height,
        width: map.width,
        boxes: map.objects.iter().map(|o| o.bbox).collect(),
        classes: vec![0; map.objects.len()],
        values: map.values,
    }
}

/// The seed of training image `image` of iteration `iteration` of a run
/// seeded `run_seed`: below [`VALIDATION_SEEDS`], distinct per image.
pub fn training_seed(
    run_seed: u64,
    iteration: usize,
    images_per_batch: usize,
    image: usize,
) -> u64 {
    let index = (iteration * images_per_batch + image) as u64;
    (run_seed.wrapping_mul(0x9E37_79B9) ^ index) % VALIDATION_SEEDS
}

/// A training run: the detector on `device` (an autodiff device) trained
/// for `training.max_iterations` iterations; `on_iteration` hears of every
/// step and decides when to validate or save (return `true` to stop).
pub struct SyntheticRun {
    pub detector: DetectorConfig,
    pub training: TrainingConfig,
    pub synthesis: SynthesisConfig,
    pub seed: u64,
}

impl SyntheticRun {
    /// Trains `detector` (fresh or resumed) from `start_iteration`.
    pub fn train(
        &self,
        mut detector: Detector,
        start_iteration: usize,
        mut on_iteration: impl FnMut(usize, &Losses, &Detector) -> bool,
    ) -> Result<Detector, TrainingError> {
        let mut optimizer = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(self.training.momentum)
                    .with_dampening(0.0),
            ))
            .with_weight_decay(Some(WeightDecayConfig::new(self.training.weight_decay)))
            .init();
        // Proposal counts of training, as detectron2's *_TRAIN settings.
        detector.config.rpn_pre_nms_top_k = self.training.rpn_pre_nms_top_k;
        detector.config.rpn_post_nms_top_k = self.training.rpn_post_nms_top_k;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        for iteration in start_iteration..self.training.max_iterations {
            let images = self.training.images_per_batch;
            let batch = (0..images)
                .map(|image| {
                    let seed = training_seed(self.seed, iteration, images, image);
                    let example = resize_shortest_edge(
                        example_of(synthesize(&self.synthesis, seed)?),
                        &self.training.min_sizes,
                        self.training.max_size,
                        &mut rng,
                    );
                    Ok(augment(example, &mut rng))
                })
                .collect::<Result<Vec<_>, SynthesisError>>()?;
            let learning_rate = self.training.learning_rate(iteration);
            let (updated, losses) = train_step(
                detector,
                &mut optimizer,
                &batch,
                learning_rate,
                &self.training,
                &mut rng,
            )?;
            detector = updated;
            if on_iteration(iteration, &losses, &detector) {
                break;
            }
        }
        detector.config = self.detector.clone();
        Ok(detector)
    }

    /// Validation figures of `detector` on `maps` maps of validation seeds.
    pub fn validate(
        &self,
        detector: &Detector,
        maps: usize,
        device: &Device,
    ) -> Result<ValidationMetrics, TrainingError> {
        let mut inference = detector.valid();
        inference.config = self.detector.clone();
        let mut results = Vec::with_capacity(maps);
        for i in 0..maps as u64 {
            let map = synthesize(&self.synthesis, VALIDATION_SEEDS + i)?;
            let score_map = Tensor::<2>::from_data(
                TensorData::new(map.values, [map.height, map.width]),
                device,
            );
            let detections = pollster::block_on(inference.detect(score_map))?;
            results.push(ValidationMap {
                detections,
                objects: map.objects.iter().map(|o| o.bbox).collect(),
            });
        }
        Ok(validate(&results, VALIDATION_MIN_SIDE))
    }
}
