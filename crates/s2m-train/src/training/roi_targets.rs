//! Training targets of the ROI box head, as detectron2's
//! `ROIHeads.label_and_sample_proposals` and `FastRCNNOutputs.losses`: the
//! ground-truth boxes join the proposals, each proposal is matched
//! (foreground at IoU 0.5 and above), 512 are sampled per image with at most a quarter
//! foreground; classification by cross-entropy over the sampled proposals
//! (background = the last class), class-specific box deltas (weights
//! 10,10,5,5) by L1 on the foreground ones, summed and divided by the
//! number of sampled proposals.

use burn::tensor::{Int, Tensor, TensorData};
use rand::Rng;
use s2m_core::detector::box_coder::get_deltas;
use s2m_core::detector::boxes::Xyxy;

use super::losses::{cross_entropy_mean, deltas_tensor, l1_sum};
use super::matcher::Matcher;
use super::sampling::subsample;

/// The proposals of one image that enter the loss, foreground first.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiSamples {
    pub boxes: Vec<Xyxy>,
    /// Class per sample; `num_classes` for background.
    pub classes: Vec<usize>,
    /// Deltas to the object of each foreground sample (the first
    /// `foreground_deltas.len()` samples).
    pub foreground_deltas: Vec<[f32; 4]>,
}

/// Samples `proposals` (plus the ground truth) for the objects
/// `ground_truth` of classes `gt_classes`.
#[allow(clippy::too_many_arguments)]
pub fn roi_samples(
    proposals: &[Xyxy],
    ground_truth: &[Xyxy],
    gt_classes: &[usize],
    num_classes: usize,
    rois_per_image: usize,
    positive_fraction: f32,
    box_weights: [f32; 4],
    rng: &mut impl Rng,
) -> RoiSamples {
    let candidates: Vec<Xyxy> = proposals.iter().chain(ground_truth).copied().collect();
    let matches = Matcher::roi_heads().matches(ground_truth, &candidates);
    let (foreground, background) = subsample(&matches, rois_per_image, positive_fraction, rng);
    let object = |i: usize| matches[i].ground_truth;
    RoiSamples {
        boxes: foreground
            .iter()
            .chain(&background)
            .map(|&i| candidates[i])
            .collect(),
        classes: foreground
            .iter()
            .map(|&i| gt_classes[object(i)])
            .chain(background.iter().map(|_| num_classes))
            .collect(),
        foreground_deltas: foreground
            .iter()
            .map(|&i| get_deltas(&candidates[i], &ground_truth[object(i)], box_weights))
            .collect(),
    }
}

/// (classification loss, box loss) of the box head's outputs for the
/// samples (`class_logits` `[S, K + 1]`, `box_deltas` `[S, 4K]`).
pub fn roi_losses(
    class_logits: Tensor<2>,
    box_deltas: Tensor<2>,
    samples: &RoiSamples,
) -> (Tensor<1>, Tensor<1>) {
    let device = class_logits.device();
    let count = samples.classes.len();
    let classes: Vec<i64> = samples.classes.iter().map(|&c| c as i64).collect();
    let classes = Tensor::<1, Int>::from_data(TensorData::new(classes, [count]), &device);
    let classification = cross_entropy_mean(class_logits, classes);

    let positives = samples.foreground_deltas.len();
    let box_loss = if positives == 0 {
        Tensor::zeros([1], &device)
    } else {
        // Column 4c + j holds coordinate j of class c.
        let columns: Vec<i64> = samples.classes[..positives]
            .iter()
            .flat_map(|&c| (0..4).map(move |j| (4 * c + j) as i64))
            .collect();
        let columns =
            Tensor::<2, Int>::from_data(TensorData::new(columns, [positives, 4]), &device);
        let predicted = box_deltas.narrow(0, 0, positives).gather(1, columns);
        let target = deltas_tensor(&samples.foreground_deltas, &device);
        l1_sum(predicted, target).div_scalar(count as f32)
    };
    (classification, box_loss)
}
