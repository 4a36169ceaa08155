//! SAM's mask decoder: output tokens and prompt tokens through the two-way
//! transformer, the image embedding upscaled 4x by transposed convolutions,
//! masks from a hypernetwork MLP per mask token, and a mask-quality (IoU)
//! head.
//!
//! Follows `segment_anything/modeling/mask_decoder.py` (`MaskDecoder`,
//! `predict_masks`): token 0 predicts the single-mask output, tokens 1..=3
//! the three multimask outputs.

use burn::module::Module;
use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Embedding, EmbeddingConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor};

use super::two_way_transformer::TwoWayTransformer;
use crate::nn::{LayerNorm2d, Mlp};

#[derive(Debug, Clone, PartialEq)]
pub struct MaskDecoderConfig {
    pub transformer_dim: usize,
    pub transformer_depth: usize,
    pub transformer_heads: usize,
    pub transformer_mlp_dim: usize,
    pub num_multimask_outputs: usize,
    pub iou_head_depth: usize,
    pub iou_head_hidden_dim: usize,
}

impl MaskDecoderConfig {
    /// The decoder of every SAM variant and of MobileSAM.
    pub fn sam() -> Self {
        Self {
            transformer_dim: 256,
            transformer_depth: 2,
            transformer_heads: 8,
            transformer_mlp_dim: 2048,
            num_multimask_outputs: 3,
            iou_head_depth: 3,
            iou_head_hidden_dim: 256,
        }
    }

    pub fn init(&self, device: &Device) -> MaskDecoder {
        let d = self.transformer_dim;
        let num_mask_tokens = self.num_multimask_outputs + 1;
        let upscale = |c_in: usize, c_out: usize| {
            ConvTranspose2dConfig::new([c_in, c_out], [2, 2])
                .with_stride([2, 2])
                .init(device)
        };
        MaskDecoder {
            transformer: TwoWayTransformer::new(
                self.transformer_depth,
                d,
                self.transformer_heads,
                self.transformer_mlp_dim,
                device,
            ),
            iou_token: EmbeddingConfig::new(1, d).init(device),
            mask_tokens: EmbeddingConfig::new(num_mask_tokens, d).init(device),
            output_upscaling: OutputUpscaling {
                conv1: upscale(d, d / 4),
                norm: LayerNorm2d::new(d / 4, device),
                conv2: upscale(d / 4, d / 8),
            },
            output_hypernetworks_mlps: (0..num_mask_tokens)
                .map(|_| Mlp::new(d, d, d / 8, 3, device))
                .collect(),
            iou_prediction_head: Mlp::new(
                d,
                self.iou_head_hidden_dim,
                num_mask_tokens,
                self.iou_head_depth,
                device,
            ),
        }
    }
}

/// ConvTranspose 2x, LayerNorm2d, GELU, ConvTranspose 2x, GELU.
#[derive(Module, Debug)]
pub struct OutputUpscaling {
    pub conv1: ConvTranspose2d,
    pub norm: LayerNorm2d,
    pub conv2: ConvTranspose2d,
}

impl OutputUpscaling {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = gelu(self.norm.forward(self.conv1.forward(x)));
        gelu(self.conv2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct MaskDecoder {
    pub transformer: TwoWayTransformer,
    pub iou_token: Embedding,
    pub mask_tokens: Embedding,
    pub output_upscaling: OutputUpscaling,
    pub output_hypernetworks_mlps: Vec<Mlp>,
    pub iou_prediction_head: Mlp,
}

/// Low-resolution mask logits `[N, masks, 4*grid, 4*grid]` and their
/// predicted IoU `[N, masks]`.
#[derive(Debug, Clone)]
pub struct MaskPrediction {
    pub low_res_logits: Tensor<4>,
    pub iou: Tensor<2>,
}

impl MaskDecoder {
    /// `image_embedding`, `image_pe`: `[1, C, g, g]`, shared by all N
    /// prompts; `sparse`: `[N, tokens, C]`; `dense`: `[N, C, g, g]`.
    pub fn forward(
        &self,
        image_embedding: Tensor<4>,
        image_pe: Tensor<4>,
        sparse: Tensor<3>,
        dense: Tensor<4>,
        multimask_output: bool,
    ) -> MaskPrediction {
        let [n, _, c] = sparse.dims();
        let [_, _, g, _] = image_embedding.dims();
        let num_mask_tokens = self.mask_tokens.weight.dims()[0];
        let output_tokens = Tensor::cat(
            vec![self.iou_token.weight.val(), self.mask_tokens.weight.val()],
            0,
        )
        .unsqueeze::<3>()
        .expand([n, 1 + num_mask_tokens, c]);
        let tokens = Tensor::cat(vec![output_tokens, sparse], 1);
        let src = image_embedding.expand([n, c, g, g]) + dense;
        let pos_src = image_pe.expand([n, c, g, g]);
        let (hs, src) = self.transformer.forward(src, pos_src, tokens);

        let iou_token_out = hs.clone().narrow(1, 0, 1).reshape([n, c]);
        let upscaled = self
            .output_upscaling
            .forward(src.swap_dims(1, 2).reshape([n, c, g, g]));
        let [_, c_up, h_up, w_up] = upscaled.dims();
        let hyper_in = Tensor::cat(
            self.output_hypernetworks_mlps
                .iter()
                .enumerate()
                .map(|(i, mlp)| mlp.forward(hs.clone().narrow(1, 1 + i, 1)))
                .collect(),
            1,
        );
        let masks = hyper_in
            .matmul(upscaled.reshape([n, c_up, h_up * w_up]))
            .reshape([n, num_mask_tokens, h_up, w_up]);
        let iou = self.iou_prediction_head.forward(iou_token_out);

        let (first, count) = if multimask_output {
            (1, num_mask_tokens - 1)
        } else {
            (0, 1)
        };
        MaskPrediction {
            low_res_logits: masks.narrow(1, first, count),
            iou: iou.narrow(1, first, count),
        }
    }
}
