//! Training the prompt generator on a fixed list of examples: the OE score
//! maps, scored once and cached (REFERENCE.md, "Training the prompt
//! generator (outlier exposure)"; issue #4). Training goes through the
//! list in epochs, each in its own order shuffled from the run's seed, as
//! detectron2's `TrainingSampler` (an endless stream of permutations) does;
//! the shared loop ([`trainer`](super::trainer)) resizes and augments every
//! example it takes. Validation runs on examples held out of training.

use burn::tensor::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use s2m_core::detector::{Detector, DetectorConfig};

use super::config::TrainingConfig;
use super::step::{Losses, TrainingExample};
use super::trainer::{TrainingError, detect_on, train};
use super::validation::ValidationMap;

/// A run on `examples`, validated on `validation`.
pub struct ExampleRun {
    pub detector: DetectorConfig,
    pub training: TrainingConfig,
    pub seed: u64,
    pub examples: Vec<TrainingExample>,
    pub validation: Vec<TrainingExample>,
}

/// The order in which epoch `epoch` of a run seeded `seed` visits `n`
/// examples: a permutation of `0..n` of its own ChaCha8 stream.
pub fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

impl ExampleRun {
    /// A run on `examples` but the last `held_out`, which validate it.
    pub fn holding_out(
        detector: DetectorConfig,
        training: TrainingConfig,
        seed: u64,
        mut examples: Vec<TrainingExample>,
        held_out: usize,
    ) -> Result<Self, TrainingError> {
        if held_out >= examples.len() {
            return Err(TrainingError::TooFewExamples {
                examples: examples.len(),
                held_out,
            });
        }
        let validation = examples.split_off(examples.len() - held_out);
        Ok(Self {
            detector,
            training,
            seed,
            examples,
            validation,
        })
    }

    /// Trains `detector` (fresh or resumed) from `start_iteration`: image
    /// `j` of iteration `i` is position `i * images_per_batch + j` of the
    /// stream of epochs, so a resumed run takes the examples the
    /// uninterrupted one would have taken.
    pub fn train(
        &self,
        detector: Detector,
        start_iteration: usize,
        on_iteration: impl FnMut(usize, &Losses, &Detector) -> bool,
    ) -> Result<Detector, TrainingError> {
        let n = self.examples.len();
        if n == 0 {
            return Err(TrainingError::TooFewExamples {
                examples: 0,
                held_out: 0,
            });
        }
        let images = self.training.images_per_batch;
        let mut order: Option<(usize, Vec<usize>)> = None;
        train(
            detector,
            &self.detector,
            &self.training,
            self.seed,
            start_iteration,
            |iteration, image| {
                let position = iteration * images + image;
                let epoch = position / n;
                if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                    order = Some((epoch, epoch_order(self.seed, epoch, n)));
                }
                let (_, indices) = order.as_ref().expect("set above");
                Ok(self.examples[indices[position % n]].clone())
            },
            on_iteration,
        )
    }

    /// The detections of `detector` (at the run's score threshold) on the
    /// held-out examples.
    pub fn validation_results(
        &self,
        detector: &Detector,
        device: &Device,
    ) -> Result<Vec<ValidationMap>, TrainingError> {
        let examples = self.validation.iter().cloned().map(Ok);
        detect_on(detector, &self.detector, examples, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(value: f32) -> TrainingExample {
        TrainingExample {
            height: 1,
            width: 1,
            values: vec![value],
            boxes: vec![],
            classes: vec![],
        }
    }

    #[test]
    fn epochs_are_seeded_permutations() {
        let first = epoch_order(3, 0, 50);
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(epoch_order(3, 0, 50), first);
        assert_ne!(epoch_order(3, 1, 50), first);
        assert_ne!(epoch_order(4, 0, 50), first);
    }

    #[test]
    fn the_last_examples_are_held_out() {
        let examples: Vec<_> = (0..5).map(|i| example(i as f32)).collect();
        let config = DetectorConfig::default();
        let run = ExampleRun::holding_out(
            config.clone(),
            TrainingConfig::default(),
            0,
            examples.clone(),
            2,
        )
        .unwrap();
        assert_eq!(run.examples, examples[..3]);
        assert_eq!(run.validation, examples[3..]);
        let err = ExampleRun::holding_out(config, TrainingConfig::default(), 0, examples, 5)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "5 examples leave none for training when 5 are held out for validation"
        );
    }
}
