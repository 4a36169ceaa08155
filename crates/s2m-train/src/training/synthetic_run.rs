//! Training the prompt generator on synthesised score maps (issue #4):
//! every iteration draws fresh maps from the synthesiser (training seeds)
//! for the shared loop ([`trainer`](super::trainer)); validation runs the
//! generator in inference mode on maps of seeds training never draws.
//! Training may draw its maps from a config of its own (more of the hard
//! cases, say), while validation and calibration keep the reference one,
//! so that figures stay comparable between runs.

use burn::tensor::Device;
use s2m_core::detector::{Detector, DetectorConfig};

use super::config::TrainingConfig;
use super::step::{Losses, TrainingExample};
use super::trainer::{TrainingError, detect_on, train};
use super::validation::ValidationMap;
use crate::synthesis::{SynthesisConfig, SyntheticMap, synthesize};

/// Seeds at or above this are reserved for validation maps.
pub const VALIDATION_SEEDS: u64 = 1 << 62;

/// The seeds of calibration maps (see [`calibration`](super::calibration)),
/// far from the validation seeds' start.
pub const CALIBRATION_SEEDS: u64 = VALIDATION_SEEDS + (1 << 61);

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
    /// The maps training draws.
    pub training_synthesis: SynthesisConfig,
    /// The maps validation and calibration draw.
    pub synthesis: SynthesisConfig,
    pub seed: u64,
}

impl SyntheticRun {
    /// Trains `detector` (fresh or resumed) from `start_iteration`.
    pub fn train(
        &self,
        detector: Detector,
        start_iteration: usize,
        on_iteration: impl FnMut(usize, &Losses, &Detector) -> bool,
    ) -> Result<Detector, TrainingError> {
        let images = self.training.images_per_batch;
        train(
            detector,
            &self.detector,
            &self.training,
            self.seed,
            start_iteration,
            |iteration, image| {
                let seed = training_seed(self.seed, iteration, images, image);
                Ok(example_of(synthesize(&self.training_synthesis, seed)?))
            },
            on_iteration,
        )
    }

    /// The detections of `detector` (at the run's score threshold) on
    /// `maps` maps of validation seeds.
    pub fn validation_results(
        &self,
        detector: &Detector,
        maps: usize,
        device: &Device,
    ) -> Result<Vec<ValidationMap>, TrainingError> {
        self.results_from(VALIDATION_SEEDS, detector, maps, device)
    }

    /// The detections of `detector` on `maps` maps of calibration seeds,
    /// which neither training nor validation draws.
    pub fn calibration_results(
        &self,
        detector: &Detector,
        maps: usize,
        device: &Device,
    ) -> Result<Vec<ValidationMap>, TrainingError> {
        self.results_from(CALIBRATION_SEEDS, detector, maps, device)
    }

    fn results_from(
        &self,
        first_seed: u64,
        detector: &Detector,
        maps: usize,
        device: &Device,
    ) -> Result<Vec<ValidationMap>, TrainingError> {
        let examples =
            (0..maps as u64).map(|i| Ok(example_of(synthesize(&self.synthesis, first_seed + i)?)));
        detect_on(detector, &self.detector, examples, device)
    }
}
