//! The S2M prompt generator: a Faster R-CNN that reads the anomaly score
//! map and returns box prompts (REFERENCE.md, "Prompt generator").
//!
//! Follows detectron2's `faster_rcnn_R_50_FPN_3x` configuration, the layout
//! the S2M authors trained; field names follow its state dict, so a
//! detectron2 `model_final.pth` converts by s2m-weights with one rename.
//! One file per stage, as torchvision's `models/detection/`:
//! [`input`] -> [`fpn`] over [`resnet`] -> [`rpn`] ([`anchors`],
//! [`box_coder`], [`nms`]) -> [`poolers`] ([`roi_align`]) -> [`roi_heads`].

pub mod anchors;
pub mod box_coder;
pub mod boxes;
pub mod config;
pub mod fpn;
pub mod init;
pub mod input;
pub mod nms;
pub mod poolers;
pub mod resnet;
pub mod roi_align;
pub mod roi_heads;
pub mod rpn;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

pub use config::{BackboneConfig, DetectorConfig, ResNetDepth};
pub use roi_heads::Detection;
pub use rpn::Proposals;

use crate::readback::ReadbackError;
use fpn::FpnBackbone;
use roi_heads::RoiHeads;
use rpn::Rpn;

/// A score map the detector cannot run on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DetectorError {
    #[error("the score map is empty ({height}x{width})")]
    EmptyScoreMap { height: usize, width: usize },
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// The prompt generator.
#[derive(Module, Debug)]
pub struct Detector {
    pub backbone: FpnBackbone,
    pub proposal_generator: Rpn,
    pub roi_heads: RoiHeads,
    #[module(skip)]
    pub config: DetectorConfig,
}

impl Detector {
    /// A detector with freshly initialised parameters.
    pub fn new(config: DetectorConfig, device: &Device) -> Self {
        Self {
            backbone: FpnBackbone::new(&config.backbone, config.input_channels(), device),
            proposal_generator: Rpn::new(
                config.backbone.fpn_out_channels,
                config.anchors_per_cell(),
                device,
            ),
            roi_heads: RoiHeads::new(&config, device),
            config,
        }
    }

    /// FPN features P2..P6 of a score map `[H, W]` (padded input).
    pub fn features(&self, score_map: Tensor<2>) -> Result<[Tensor<4>; 5], DetectorError> {
        let [height, width] = score_map.dims();
        if height == 0 || width == 0 {
            return Err(DetectorError::EmptyScoreMap { height, width });
        }
        Ok(self
            .backbone
            .forward(input::score_map_to_input(score_map, &self.config)))
    }

    /// RPN proposals of a score map from its features.
    pub async fn proposals(
        &self,
        features: &[Tensor<4>; 5],
        image_size: (usize, usize),
    ) -> Result<Proposals, DetectorError> {
        Ok(self
            .proposal_generator
            .proposals(features, image_size, &self.config)
            .await?)
    }

    /// Box prompts of a score map `[H, W]`, in its pixel coordinates, by
    /// decreasing score.
    pub async fn detect(&self, score_map: Tensor<2>) -> Result<Vec<Detection>, DetectorError> {
        let [height, width] = score_map.dims();
        let features = self.features(score_map)?;
        let proposals = self.proposals(&features, (height, width)).await?;
        let pooled = poolers::pool(&features, &proposals.boxes, &self.config);
        Ok(self
            .roi_heads
            .detect(pooled, &proposals.boxes, (height, width), &self.config)
            .await?)
    }
}
