//! Where `s2m train-generator` gets its score maps: synthesised ones drawn
//! afresh every iteration (`SyntheticRun`), or the outlier-exposure maps
//! that `s2m outlier-exposure` cached (`ExampleRun`: shuffled epochs, the
//! last maps held out for validation, the generator's input normalised for
//! the maps' scores).

use std::path::Path;

use anyhow::Result;
use burn::tensor::Device;
use s2m_core::detector::{Detector, DetectorConfig};
use s2m_train::outlier_exposure::cached_examples;
use s2m_train::synthesis::SynthesisConfig;
use s2m_train::training::config::{small_generator_config, small_generator_config_for};
use s2m_train::training::{
    ExampleRun, Losses, SyntheticRun, TrainingConfig, TrainingError, ValidationMap,
};

/// A training run on either kind of map.
pub enum TrainingMaps {
    Synthetic {
        run: Box<SyntheticRun>,
        validation_maps: usize,
    },
    Cached(Box<ExampleRun>),
}

impl TrainingMaps {
    /// Maps synthesised with `training_synthesis`, validated on
    /// `validation_maps` maps of `synthesis` and of seeds training never
    /// draws.
    pub fn synthetic(
        training: TrainingConfig,
        training_synthesis: SynthesisConfig,
        synthesis: SynthesisConfig,
        seed: u64,
        validation_maps: usize,
    ) -> Self {
        Self::Synthetic {
            run: Box::new(SyntheticRun {
                detector: small_generator_config(),
                training,
                training_synthesis,
                synthesis,
                seed,
            }),
            validation_maps,
        }
    }

    /// The maps cached in `dir`, the last `validation_maps` held out.
    pub fn cached(
        dir: &Path,
        training: TrainingConfig,
        seed: u64,
        validation_maps: usize,
        normalisation: Option<(f32, f32)>,
    ) -> Result<Self> {
        let examples = cached_examples(dir)?;
        let training_part = &examples[..examples.len().saturating_sub(validation_maps)];
        let measured = small_generator_config_for(training_part);
        let detector = match normalisation {
            Some((mean, std)) => DetectorConfig {
                pixel_mean: [mean; 3],
                pixel_std: [std; 3],
                ..measured
            },
            None => measured,
        };
        let run = ExampleRun::holding_out(detector, training, seed, examples, validation_maps)?;
        Ok(Self::Cached(Box::new(run)))
    }

    /// The generator's configuration (architecture and input normalisation).
    pub fn detector(&self) -> &DetectorConfig {
        match self {
            Self::Synthetic { run, .. } => &run.detector,
            Self::Cached(run) => &run.detector,
        }
    }

    /// Maps of one training pass, where there are epochs.
    pub fn training_maps(&self) -> Option<usize> {
        match self {
            Self::Synthetic { .. } => None,
            Self::Cached(run) => Some(run.examples.len()),
        }
    }

    pub fn train(
        &self,
        detector: Detector,
        start_iteration: usize,
        on_iteration: impl FnMut(usize, &Losses, &Detector) -> bool,
    ) -> Result<Detector, TrainingError> {
        match self {
            Self::Synthetic { run, .. } => run.train(detector, start_iteration, on_iteration),
            Self::Cached(run) => run.train(detector, start_iteration, on_iteration),
        }
    }

    /// The detections of `detector` (at the run's score threshold) on the
    /// held-out maps.
    pub fn validation_results(
        &self,
        detector: &Detector,
        device: &Device,
    ) -> Result<Vec<ValidationMap>, TrainingError> {
        match self {
            Self::Synthetic {
                run,
                validation_maps,
            } => run.validation_results(detector, *validation_maps, device),
            Self::Cached(run) => run.validation_results(detector, device),
        }
    }

    /// The detections of `detector` on `maps` calibration maps, where the
    /// run has maps without objects to calibrate on: synthesised maps do,
    /// outlier-exposure maps (one pasted object each) do not.
    pub fn calibration_results(
        &self,
        detector: &Detector,
        maps: usize,
        device: &Device,
    ) -> Result<Option<Vec<ValidationMap>>, TrainingError> {
        match self {
            Self::Synthetic { run, .. } => {
                Ok(Some(run.calibration_results(detector, maps, device)?))
            }
            Self::Cached(_) => Ok(None),
        }
    }
}
