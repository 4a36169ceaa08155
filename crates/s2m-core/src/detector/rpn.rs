//! The region proposal network, as detectron2's
//! `modeling/proposal_generator/rpn.py` (`StandardRPNHead`, `RPN`) and
//! `proposal_utils.py::find_top_rpn_proposals` at test time:
//!
//! 1. a shared 3x3 convolution + ReLU on every level P2..P6, then 1x1
//!    convolutions to one objectness logit and four deltas per anchor,
//!    flattened in anchor order (y, x, cell anchor);
//! 2. per level, the `pre_nms_top_k` anchors of highest logit, decoded with
//!    the RPN box weights;
//! 3. over all levels: boxes with a non-finite coordinate dropped, boxes
//!    clipped to the image, empty boxes dropped, NMS per level, the first
//!    `post_nms_top_k` kept (by decreasing logit).
//!
//! Steps 2 and 3 select on the host after one asynchronous read of the
//! logits and one of the selected boxes; decoding stays on the device.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::anchors::{anchor_at, cell_anchors};
use super::box_coder::apply_deltas;
use super::boxes::{Xyxy, clip, is_finite, is_nonempty};
use super::config::DetectorConfig;
use super::init;
use super::nms::batched_nms;
use crate::readback::{ReadbackError, read_f32};

/// The RPN head shared by all levels.
#[derive(Module, Debug)]
pub struct RpnHead {
    pub conv: Conv2d,
    pub objectness_logits: Conv2d,
    pub anchor_deltas: Conv2d,
}

/// The proposal generator; the field name follows detectron2's state dict
/// (`proposal_generator.rpn_head.*`).
#[derive(Module, Debug)]
pub struct Rpn {
    pub rpn_head: RpnHead,
}

/// Proposals of one image, by decreasing objectness.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Proposals {
    pub boxes: Vec<Xyxy>,
    pub objectness_logits: Vec<f32>,
}

impl Rpn {
    pub fn new(channels: usize, anchors_per_cell: usize, device: &Device) -> Self {
        let conv1x1 = |c_out| {
            init::conv(
                Conv2dConfig::new([channels, c_out], [1, 1]),
                init::normal(0.01),
                device,
            )
        };
        Self {
            rpn_head: RpnHead {
                conv: init::conv(
                    Conv2dConfig::new([channels, channels], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
                    init::normal(0.01),
                    device,
                ),
                objectness_logits: conv1x1(anchors_per_cell),
                anchor_deltas: conv1x1(4 * anchors_per_cell),
            },
        }
    }

    /// Objectness logits `[H * W * A]` and deltas `[H * W * A, 4]` of one
    /// level (batch 1), in anchor order.
    pub fn head(&self, feature: Tensor<4>) -> (Tensor<1>, Tensor<2>) {
        let [_, _, h, w] = feature.dims();
        let t = relu(self.rpn_head.conv.forward(feature));
        let logits = self.rpn_head.objectness_logits.forward(t.clone());
        let a = logits.dims()[1];
        let logits = logits.permute([0, 2, 3, 1]).reshape([h * w * a]);
        let deltas = self
            .rpn_head
            .anchor_deltas
            .forward(t)
            .reshape([a, 4, h, w])
            .permute([2, 3, 0, 1])
            .reshape([h * w * a, 4]);
        (logits, deltas)
    }

    /// The proposals for an image of `image_size` (height, width) from its
    /// features P2..P6.
    pub async fn proposals(
        &self,
        features: &[Tensor<4>],
        image_size: (usize, usize),
        config: &DetectorConfig,
    ) -> Result<Proposals, ReadbackError> {
        let device = features[0].device();
        let (logits, deltas): (Vec<_>, Vec<_>) =
            features.iter().map(|f| self.head(f.clone())).unzip();
        let level_lengths: Vec<usize> = logits.iter().map(|l| l.dims()[0]).collect();
        let all_logits = read_f32(Tensor::cat(logits, 0), "RPN objectness logits").await?;

        // Top-k anchors per level, with their level and anchor box.
        let mut selected: Vec<(usize, usize, f32, Xyxy)> = Vec::new();
        let mut level_start = 0;
        for (level, &len) in level_lengths.iter().enumerate() {
            let level_logits = &all_logits[level_start..level_start + len];
            let grid_w = features[level].dims()[3];
            let cell = cell_anchors(config.anchor_sizes[level], &config.anchor_aspect_ratios);
            let mut order: Vec<usize> = (0..len).collect();
            order.sort_by(|&i, &j| level_logits[j].total_cmp(&level_logits[i]));
            order.truncate(config.rpn_pre_nms_top_k);
            selected.extend(order.into_iter().map(|i| {
                let anchor = anchor_at(
                    i,
                    grid_w,
                    config.strides[level],
                    config.anchor_offset,
                    &cell,
                );
                (level_start + i, level, level_logits[i], anchor)
            }));
            level_start += len;
        }

        // Decode the selected anchors on the device.
        let count = selected.len();
        let indices: Vec<i64> = selected.iter().map(|s| s.0 as i64).collect();
        let anchors: Vec<f32> = selected.iter().flat_map(|s| s.3).collect();
        let deltas = Tensor::cat(deltas, 0).select(
            0,
            Tensor::<1, Int>::from_data(TensorData::new(indices, [count]), &device),
        );
        let anchors = Tensor::<2>::from_data(TensorData::new(anchors, [count, 4]), &device);
        let decoded = read_f32(
            apply_deltas(deltas, anchors, config.rpn_box_weights),
            "RPN proposal boxes",
        )
        .await?;

        let (height, width) = image_size;
        let mut boxes = Vec::with_capacity(count);
        let mut scores = Vec::with_capacity(count);
        let mut levels = Vec::with_capacity(count);
        for (s, b) in selected.iter().zip(decoded.chunks_exact(4)) {
            let b: Xyxy = [b[0], b[1], b[2], b[3]];
            if !is_finite(&b) || !s.2.is_finite() {
                continue;
            }
            let b = clip(b, height, width);
            if is_nonempty(&b, 0.0) {
                boxes.push(b);
                scores.push(s.2);
                levels.push(s.1);
            }
        }
        let mut keep = batched_nms(&boxes, &scores, &levels, config.rpn_nms_threshold);
        keep.truncate(config.rpn_post_nms_top_k);
        Ok(Proposals {
            boxes: keep.iter().map(|&i| boxes[i]).collect(),
            objectness_logits: keep.iter().map(|&i| scores[i]).collect(),
        })
    }
}
