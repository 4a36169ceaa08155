//! The training loop and the validation pass shared by every source of
//! training maps (REFERENCE.md, "Training the prompt generator"): each
//! iteration takes `images_per_batch` examples from the source, resizes
//! them (multi-scale training), augments them (flip, 1 % noise) and takes
//! an SGD step with momentum and weight decay at the scheduled learning
//! rate; validation runs the generator in inference mode on maps with
//! known boxes.

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
use super::validation::ValidationMap;
use crate::synthesis::SynthesisError;

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error(transparent)]
    Synthesis(#[from] SynthesisError),
    #[error(transparent)]
    Detector(#[from] DetectorError),
    #[error(
        "{examples} examples leave none for training when {held_out} are held out for validation"
    )]
    TooFewExamples { examples: usize, held_out: usize },
}

/// The smallest object side validation counts (issue #4: 32x32 px).
pub const VALIDATION_MIN_SIDE: f32 = 32.0;

/// Trains `detector` (fresh or resumed) from `start_iteration` to
/// `training.max_iterations` on the examples `example(iteration, image)`
/// gives; sampling, resizing and augmentation draw from one ChaCha8 stream
/// seeded `seed`. `on_iteration` hears of every step and decides when to
/// validate or save (return `true` to stop). The detector comes back with
/// `inference` (the configuration it is used with) as its configuration.
pub fn train(
    mut detector: Detector,
    inference: &DetectorConfig,
    training: &TrainingConfig,
    seed: u64,
    start_iteration: usize,
    mut example: impl FnMut(usize, usize) -> Result<TrainingExample, TrainingError>,
    mut on_iteration: impl FnMut(usize, &Losses, &Detector) -> bool,
) -> Result<Detector, TrainingError> {
    let mut optimizer = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(training.momentum)
                .with_dampening(0.0),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(training.weight_decay)))
        .init();
    // Proposal counts of training, as detectron2's *_TRAIN settings.
    detector.config.rpn_pre_nms_top_k = training.rpn_pre_nms_top_k;
    detector.config.rpn_post_nms_top_k = training.rpn_post_nms_top_k;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for iteration in start_iteration..training.max_iterations {
        let batch = (0..training.images_per_batch)
            .map(|image| {
                let example = resize_shortest_edge(
                    example(iteration, image)?,
                    &training.min_sizes,
                    training.max_size,
                    &mut rng,
                );
                Ok(augment(example, &mut rng))
            })
            .collect::<Result<Vec<_>, TrainingError>>()?;
        let learning_rate = training.learning_rate(iteration);
        let (updated, losses) = train_step(
            detector,
            &mut optimizer,
            &batch,
            learning_rate,
            training,
            &mut rng,
        )?;
        detector = updated;
        if on_iteration(iteration, &losses, &detector) {
            break;
        }
    }
    detector.config = inference.clone();
    Ok(detector)
}

/// The detections of `detector`, run with the `inference` configuration,
/// on `examples`, next to their boxes (the ground truth).
pub fn detect_on(
    detector: &Detector,
    inference: &DetectorConfig,
    examples: impl IntoIterator<Item = Result<TrainingExample, TrainingError>>,
    device: &Device,
) -> Result<Vec<ValidationMap>, TrainingError> {
    let mut model = detector.valid();
    model.config = inference.clone();
    let mut results = Vec::new();
    for example in examples {
        let example = example?;
        let score_map = Tensor::<2>::from_data(
            TensorData::new(example.values, [example.height, example.width]),
            device,
        );
        let detections = pollster::block_on(model.detect(score_map))?;
        results.push(ValidationMap {
            detections,
            objects: example.boxes,
        });
    }
    Ok(results)
}
