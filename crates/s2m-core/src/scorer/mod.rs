//! The anomaly scorer: a segmentation network whose logits become the
//! anomaly score map the prompt generator reads (REFERENCE.md, "The
//! pipeline", item 1).
//!
//! The network is DeepWV3Plus (DeepLabv3+ on WideResNet38) as RPL
//! (`yyliu01/RPL`, the paper's scorer, RPL+CoroCL) and PEBAL
//! (`tianyu0207/PEBAL`) use it; field names follow their state dicts, so the
//! published checkpoints convert by s2m-weights with a few renames.
//! [`input`] -> [`deeplab_wrn38`] ([`wider_resnet`], [`aspp`]) -> [`score`]
//! -> [`blur`].
//!
//! Two scorers read SAM's image embedding instead of the image: the
//! trained [`embedding_head`] and the label-free [`novelty`] scorer.

pub mod aspp;
pub mod blur;
pub mod config;
pub mod deeplab_wrn38;
pub mod embedding_head;
pub mod input;
pub mod layers;
pub mod novelty;
pub mod score;
pub mod wider_resnet;

use burn::tensor::Tensor;

pub use config::ScorerConfig;
pub use deeplab_wrn38::DeepWv3Plus;
pub use embedding_head::{EmbeddingHead, EmbeddingHeadConfig, energy_of, energy_scale};
pub use score::{SCORED_CLASSES, ScoreFunction};

impl DeepWv3Plus {
    /// The anomaly score map `[H, W]` of one normalised image `[1, 3, H, W]`
    /// as RPL and PEBAL compute it: `function` over the first 19 logits,
    /// then the Gaussian blur.
    pub fn score_map(&self, input: Tensor<4>, function: ScoreFunction) -> Tensor<2> {
        let [_, _, h, w] = input.dims();
        blur::gaussian_blur(function.score(self.forward(input))).reshape([h, w])
    }
}
