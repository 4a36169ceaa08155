//! Training targets of the RPN, as detectron2's `RPN.label_and_sample_anchors`
//! and `RPN.losses`: anchors matched to the ground truth (IoU >= 0.7
//! foreground, < 0.3 background, every object's best anchors foreground),
//! 256 anchors sampled per image with at most half foreground; objectness
//! by binary cross-entropy on the sampled anchors, box deltas (weights
//! 1,1,1,1) by L1 on the foreground ones (detectron2's smooth-L1 with its
//! default beta 0), both summed and divided by 256 per image.

use burn::tensor::{Int, Tensor, TensorData};
use rand::Rng;
use s2m_core::detector::box_coder::get_deltas;
use s2m_core::detector::boxes::Xyxy;

use super::losses::{binary_cross_entropy_with_logits_sum, deltas_tensor, l1_sum};
use super::matcher::Matcher;
use super::sampling::subsample;

/// Sampled anchors of one image and the deltas of their objects.
#[derive(Debug, Clone, PartialEq)]
pub struct RpnTargets {
    pub foreground: Vec<usize>,
    pub background: Vec<usize>,
    /// Deltas from each foreground anchor to its object.
    pub foreground_deltas: Vec<[f32; 4]>,
}

/// Samples anchors (all levels, in the order of the RPN's outputs) for the
/// objects `ground_truth`.
pub fn rpn_targets(
    anchors: &[Xyxy],
    ground_truth: &[Xyxy],
    anchors_per_image: usize,
    positive_fraction: f32,
    box_weights: [f32; 4],
    rng: &mut impl Rng,
) -> RpnTargets {
    let matches = Matcher::rpn().matches(ground_truth, anchors);
    let (foreground, background) = subsample(&matches, anchors_per_image, positive_fraction, rng);
    let foreground_deltas = foreground
        .iter()
        .map(|&a| {
            get_deltas(
                &anchors[a],
                &ground_truth[matches[a].ground_truth],
                box_weights,
            )
        })
        .collect();
    RpnTargets {
        foreground,
        background,
        foreground_deltas,
    }
}

/// (objectness loss, box loss) of one image's RPN outputs (`logits`
/// `[A]`, `deltas` `[A, 4]`), each divided by `normaliser`.
pub fn rpn_losses(
    logits: Tensor<1>,
    deltas: Tensor<2>,
    targets: &RpnTargets,
    normaliser: f32,
) -> (Tensor<1>, Tensor<1>) {
    let device = logits.device();
    let sampled: Vec<i64> = targets
        .foreground
        .iter()
        .chain(&targets.background)
        .map(|&i| i as i64)
        .collect();
    let labels: Vec<f32> = (0..sampled.len())
        .map(|i| (i < targets.foreground.len()) as u8 as f32)
        .collect();
    let count = sampled.len();
    let sampled = Tensor::<1, Int>::from_data(TensorData::new(sampled, [count]), &device);
    let labels = Tensor::<1>::from_data(TensorData::new(labels, [count]), &device);
    let objectness = binary_cross_entropy_with_logits_sum(logits.select(0, sampled), labels)
        .div_scalar(normaliser);

    let positives = targets.foreground.len();
    let box_loss = if positives == 0 {
        Tensor::zeros([1], &device)
    } else {
        let indices: Vec<i64> = targets.foreground.iter().map(|&i| i as i64).collect();
        let indices = Tensor::<1, Int>::from_data(TensorData::new(indices, [positives]), &device);
        let target = deltas_tensor(&targets.foreground_deltas, &device);
        l1_sum(deltas.select(0, indices), target).div_scalar(normaliser)
    };
    (objectness, box_loss)
}
