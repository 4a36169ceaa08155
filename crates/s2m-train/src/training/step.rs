//! One training step of the prompt generator: the detector's losses on a
//! batch of score maps with their object boxes (detectron2
//! `GeneralizedRCNN.forward` in training), backpropagation with burn's
//! autodiff, and an SGD update.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Tensor, TensorData};
use rand::Rng;
use s2m_core::detector::anchors::{cell_anchors, grid_anchors};
use s2m_core::detector::boxes::Xyxy;
use s2m_core::detector::{Detector, DetectorError, poolers};

use super::config::TrainingConfig;
use super::roi_targets::{roi_losses, roi_samples};
use super::rpn_targets::{rpn_losses, rpn_targets};

/// A score map `[height, width]` (row-major) and its objects.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingExample {
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
    pub boxes: Vec<Xyxy>,
    /// Foreground class of each box (0 for the OoD class).
    pub classes: Vec<usize>,
}

/// The four losses of one batch (means over its images), as host values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Losses {
    pub rpn_objectness: f32,
    pub rpn_box: f32,
    pub roi_class: f32,
    pub roi_box: f32,
}

impl Losses {
    pub fn total(&self) -> f32 {
        self.rpn_objectness + self.rpn_box + self.roi_class + self.roi_box
    }
}

/// The four loss tensors of one image on the detector's (autodiff) device.
fn image_losses(
    detector: &Detector,
    example: &TrainingExample,
    config: &TrainingConfig,
    rng: &mut impl Rng,
) -> Result<[Tensor<1>; 4], DetectorError> {
    let device = detector.roi_heads.box_head.fc1.weight.val().device();
    let detector_config = &detector.config;
    let image_size = (example.height, example.width);
    let score_map = Tensor::<2>::from_data(
        TensorData::new(example.values.clone(), [example.height, example.width]),
        &device,
    );
    let features = detector.features(score_map)?;

    // RPN: outputs and anchors of all levels, in the same order.
    let mut anchors: Vec<Xyxy> = Vec::new();
    let (logits, deltas): (Vec<_>, Vec<_>) = features
        .iter()
        .enumerate()
        .map(|(level, feature)| {
            let [_, _, h, w] = feature.dims();
            let cell = cell_anchors(
                detector_config.anchor_sizes[level],
                &detector_config.anchor_aspect_ratios,
            );
            anchors.extend(grid_anchors(
                h,
                w,
                detector_config.strides[level],
                detector_config.anchor_offset,
                &cell,
            ));
            detector.proposal_generator.head(feature.clone())
        })
        .unzip();
    let targets = rpn_targets(
        &anchors,
        &example.boxes,
        config.rpn_anchors_per_image,
        config.rpn_positive_fraction,
        detector_config.rpn_box_weights,
        rng,
    );
    let (rpn_objectness, rpn_box) = rpn_losses(
        Tensor::cat(logits, 0),
        Tensor::cat(deltas, 0),
        &targets,
        config.rpn_anchors_per_image as f32,
    );

    // Box head on sampled proposals (proposal boxes carry no gradient).
    let proposals = pollster::block_on(detector.proposals(&features, image_size))?;
    let samples = roi_samples(
        &proposals.boxes,
        &example.boxes,
        &example.classes,
        detector_config.num_classes,
        config.rois_per_image,
        config.roi_positive_fraction,
        detector_config.roi_box_weights,
        rng,
    );
    let pooled = poolers::pool(&features, &samples.boxes, detector_config);
    let (class_logits, box_deltas) = detector.roi_heads.forward(pooled);
    let (roi_class, roi_box) = roi_losses(class_logits, box_deltas, &samples);
    Ok([rpn_objectness, rpn_box, roi_class, roi_box])
}

/// Computes the losses of `batch`, backpropagates their sum and updates
/// `detector` with learning rate `learning_rate`; returns the updated
/// detector and the losses.
pub fn train_step(
    detector: Detector,
    optimizer: &mut ModuleOptimizer,
    batch: &[TrainingExample],
    learning_rate: f64,
    config: &TrainingConfig,
    rng: &mut impl Rng,
) -> Result<(Detector, Losses), DetectorError> {
    let mut sums: Option<[Tensor<1>; 4]> = None;
    for example in batch {
        let losses = image_losses(&detector, example, config, rng)?;
        sums = Some(match sums {
            None => losses,
            Some(sums) => {
                let [a, b, c, d] = sums;
                let [e, f, g, h] = losses;
                [a + e, b + f, c + g, d + h]
            }
        });
    }
    let Some(sums) = sums else {
        return Ok((detector, Losses::default()));
    };
    let images = batch.len() as f32;
    let [rpn_objectness, rpn_box, roi_class, roi_box] = sums.map(|t| t.div_scalar(images));
    let read = |t: &Tensor<1>| t.clone().into_scalar::<f32>();
    let losses = Losses {
        rpn_objectness: read(&rpn_objectness),
        rpn_box: read(&rpn_box),
        roi_class: read(&roi_class),
        roi_box: read(&roi_box),
    };
    let total = rpn_objectness + rpn_box + roi_class + roi_box;
    let gradients = GradientsParams::from_grads(total.backward(), &detector);
    let detector = optimizer.step(learning_rate, detector, gradients);
    Ok((detector, losses))
}
