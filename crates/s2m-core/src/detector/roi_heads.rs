//! The box branch of the ROI heads, as detectron2's `StandardROIHeads`
//! (`roi_heads.py`), `FastRCNNConvFCHead` (`box_head.py`) and
//! `FastRCNNOutputLayers` / `fast_rcnn_inference` (`fast_rcnn.py`) at
//! test time: pooled 7x7 features, two fully connected layers with ReLU,
//! class logits (background last) and class-specific box deltas; softmax,
//! boxes decoded with the ROI box weights and clipped to the image, scores
//! above the threshold kept, NMS per class, the best detections kept, and
//! (as `detector_postprocess`) boxes with a side of zero length dropped.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor, TensorData};

use super::box_coder::apply_deltas;
use super::boxes::{Xyxy, clip, is_finite, is_nonempty};
use super::config::DetectorConfig;
use super::init::{self, XAVIER_FILL};
use super::nms::batched_nms;
use crate::readback::{ReadbackError, read_f32};

/// One detected box in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    pub bbox: Xyxy,
    pub score: f32,
    /// Foreground class index (0 for the OoD class).
    pub class: usize,
}

/// Two fully connected layers over the flattened pooled features.
#[derive(Module, Debug)]
pub struct BoxHead {
    pub fc1: Linear,
    pub fc2: Linear,
}

/// Class logits (`num_classes + 1`, background last) and box deltas
/// (`4 * num_classes`).
#[derive(Module, Debug)]
pub struct BoxPredictor {
    pub cls_score: Linear,
    pub bbox_pred: Linear,
}

#[derive(Module, Debug)]
pub struct RoiHeads {
    pub box_head: BoxHead,
    pub box_predictor: BoxPredictor,
}

impl RoiHeads {
    pub fn new(config: &DetectorConfig, device: &Device) -> Self {
        let pooled = config.backbone.fpn_out_channels * config.roi_pooler_resolution.pow(2);
        let fc = config.box_head_fc_dim;
        let classes = config.num_classes;
        Self {
            box_head: BoxHead {
                fc1: init::linear(pooled, fc, XAVIER_FILL, device),
                fc2: init::linear(fc, fc, XAVIER_FILL, device),
            },
            box_predictor: BoxPredictor {
                cls_score: init::linear(fc, classes + 1, init::normal(0.01), device),
                bbox_pred: init::linear(fc, 4 * classes, init::normal(0.001), device),
            },
        }
    }

    /// Class logits `[R, K + 1]` and box deltas `[R, 4K]` of pooled
    /// features `[R, C, S, S]`.
    pub fn forward(&self, pooled: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let x: Tensor<2> = pooled.flatten(1, 3);
        let x = relu(self.box_head.fc1.forward(x));
        let x = relu(self.box_head.fc2.forward(x));
        (
            self.box_predictor.cls_score.forward(x.clone()),
            self.box_predictor.bbox_pred.forward(x),
        )
    }

    /// The final detections for `proposals` whose pooled features are
    /// `pooled`, in an image of `image_size` (height, width).
    pub async fn detect(
        &self,
        pooled: Tensor<4>,
        proposals: &[Xyxy],
        image_size: (usize, usize),
        config: &DetectorConfig,
    ) -> Result<Vec<Detection>, ReadbackError> {
        if proposals.is_empty() {
            return Ok(Vec::new());
        }
        let device = pooled.device();
        let (logits, deltas) = self.forward(pooled);
        let rois = proposals.len();
        let classes = config.num_classes;
        let probabilities = read_f32(softmax(logits, 1), "box class scores").await?;
        let proposals = Tensor::<2>::from_data(
            TensorData::new(proposals.iter().flatten().copied().collect(), [rois, 4]),
            &device,
        );
        let per_class_proposals = proposals
            .reshape([rois, 1, 4])
            .expand([rois, classes, 4])
            .reshape([rois * classes, 4]);
        let boxes = apply_deltas(
            deltas.reshape([rois * classes, 4]),
            per_class_proposals,
            config.roi_box_weights,
        );
        let boxes = read_f32(boxes, "detected boxes").await?;

        let (height, width) = image_size;
        let mut candidates: Vec<Detection> = Vec::new();
        for r in 0..rois {
            let scores = &probabilities[r * (classes + 1)..(r + 1) * (classes + 1)];
            let row: Vec<Xyxy> = boxes[r * classes * 4..(r + 1) * classes * 4]
                .chunks_exact(4)
                .map(|b| [b[0], b[1], b[2], b[3]])
                .collect();
            if !row.iter().all(is_finite) || !scores.iter().all(|s| s.is_finite()) {
                continue;
            }
            for (class, b) in row.iter().enumerate() {
                if scores[class] > config.test_score_threshold {
                    candidates.push(Detection {
                        bbox: clip(*b, height, width),
                        score: scores[class],
                        class,
                    });
                }
            }
        }
        let boxes: Vec<Xyxy> = candidates.iter().map(|d| d.bbox).collect();
        let scores: Vec<f32> = candidates.iter().map(|d| d.score).collect();
        let classes: Vec<usize> = candidates.iter().map(|d| d.class).collect();
        let mut keep = batched_nms(&boxes, &scores, &classes, config.test_nms_threshold);
        keep.truncate(config.test_detections_per_image);
        Ok(keep
            .into_iter()
            .map(|i| candidates[i])
            .filter(|d| is_nonempty(&d.bbox, 0.0))
            .collect())
    }
}
