//! SAM's prompt encoder: points and boxes to sparse embeddings, the
//! "no mask" dense embedding, and the dense positional encoding of the
//! image embedding grid.
//!
//! Follows `segment_anything/modeling/prompt_encoder.py` (random Fourier
//! features `PositionEmbeddingRandom`, coordinates shifted to pixel centres
//! by +0.5 and normalised by the 1024x1024 input frame). Mask prompts are
//! not used by S2M, so `mask_downscaling` is loaded but never run.

use std::f64::consts::PI;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Initializer};
use burn::tensor::{Device, Tensor};

use crate::nn::LayerNorm2d;

#[derive(Module, Debug)]
pub struct PositionEmbeddingRandom {
    /// `[2, embed_dim / 2]`.
    pub positional_encoding_gaussian_matrix: Param<Tensor<2>>,
}

impl PositionEmbeddingRandom {
    /// Encodes coordinates in [0, 1] (`[..., 2]`, x then y) into
    /// `[..., embed_dim]` = `[sin(2π c G), cos(2π c G)]` with `c = 2x - 1`.
    fn encode<const D: usize>(&self, coords: Tensor<D>) -> Tensor<D> {
        let projected = coords
            .mul_scalar(2.0)
            .sub_scalar(1.0)
            .matmul(self.positional_encoding_gaussian_matrix.val().unsqueeze())
            .mul_scalar(2.0 * PI);
        Tensor::cat(vec![projected.clone().sin(), projected.cos()], D - 1)
    }
}

/// Mask prompt downscaling (conv, LN2d, GELU, conv, LN2d, GELU, conv).
#[derive(Module, Debug)]
pub struct MaskDownscaling {
    pub conv1: Conv2d,
    pub norm1: LayerNorm2d,
    pub conv2: Conv2d,
    pub norm2: LayerNorm2d,
    pub conv3: Conv2d,
}

#[derive(Module, Debug)]
pub struct PromptEncoder {
    pub pe_layer: PositionEmbeddingRandom,
    /// Positive point, negative point, box top-left, box bottom-right.
    pub point_embeddings: Vec<Embedding>,
    pub not_a_point_embed: Embedding,
    pub mask_downscaling: MaskDownscaling,
    pub no_mask_embed: Embedding,
    pub embed_dim: usize,
    /// Side of the image embedding grid (64 for SAM).
    pub grid_size: usize,
    /// Side of the model input frame (1024 for SAM).
    pub input_size: usize,
}

/// A batch of prompts in the model's input frame (pixels of the resized,
/// padded image, before the +0.5 shift). One image embedding, several
/// prompts: each row of the batch gives one mask.
#[derive(Debug, Clone)]
pub enum Prompts {
    /// `coords` `[N, P, 2]` (x, y), `labels` `[N, P]` (1 foreground,
    /// 0 background, -1 padding).
    Points {
        coords: Tensor<3>,
        labels: Tensor<2>,
    },
    /// `[N, 4]` XYXY.
    Boxes(Tensor<2>),
}

impl PromptEncoder {
    pub fn new(
        embed_dim: usize,
        grid_size: usize,
        input_size: usize,
        mask_in_chans: usize,
        device: &Device,
    ) -> Self {
        let embedding = || EmbeddingConfig::new(1, embed_dim).init(device);
        let conv = |c_in: usize, c_out: usize, k: usize| {
            Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([k, k])
                .init(device)
        };
        Self {
            pe_layer: PositionEmbeddingRandom {
                positional_encoding_gaussian_matrix: Initializer::Normal {
                    mean: 0.0,
                    std: 1.0,
                }
                .init([2, embed_dim / 2], device),
            },
            point_embeddings: (0..4).map(|_| embedding()).collect(),
            not_a_point_embed: embedding(),
            mask_downscaling: MaskDownscaling {
                conv1: conv(1, mask_in_chans / 4, 2),
                norm1: LayerNorm2d::new(mask_in_chans / 4, device),
                conv2: conv(mask_in_chans / 4, mask_in_chans, 2),
                norm2: LayerNorm2d::new(mask_in_chans, device),
                conv3: conv(mask_in_chans, embed_dim, 1),
            },
            no_mask_embed: embedding(),
            embed_dim,
            grid_size,
            input_size,
        }
    }

    /// Positional encoding of every cell centre of the embedding grid,
    /// `[1, embed_dim, grid, grid]` (`get_dense_pe`).
    pub fn dense_pe(&self, device: &Device) -> Tensor<4> {
        let g = self.grid_size;
        let centres: Vec<f32> = (0..g)
            .flat_map(|y| {
                (0..g).flat_map(move |x| [(x as f32 + 0.5) / g as f32, (y as f32 + 0.5) / g as f32])
            })
            .collect();
        let coords =
            Tensor::<3>::from_data(burn::tensor::TensorData::new(centres, [g, g, 2]), device);
        self.pe_layer.encode(coords).permute([2, 0, 1]).unsqueeze()
    }

    fn embedding_row(embedding: &Embedding) -> Tensor<3> {
        embedding.weight.val().unsqueeze()
    }

    /// Sparse embeddings `[N, tokens, embed_dim]` of the prompts, and the
    /// dense "no mask" embedding `[N, embed_dim, grid, grid]`.
    pub fn forward(&self, prompts: &Prompts) -> (Tensor<3>, Tensor<4>) {
        let sparse = match prompts {
            Prompts::Points { coords, labels } => self.embed_points(coords.clone(), labels.clone()),
            Prompts::Boxes(boxes) => self.embed_boxes(boxes.clone()),
        };
        let n = sparse.dims()[0];
        let g = self.grid_size;
        let dense = self
            .no_mask_embed
            .weight
            .val()
            .reshape([1, self.embed_dim, 1, 1])
            .expand([n, self.embed_dim, g, g]);
        (sparse, dense)
    }

    /// Points without a box get one padding point (label -1) appended, as
    /// the reference does when `boxes is None`.
    fn embed_points(&self, coords: Tensor<3>, labels: Tensor<2>) -> Tensor<3> {
        let [n, _, _] = coords.dims();
        let device = coords.device();
        let coords = Tensor::cat(
            vec![coords.add_scalar(0.5), Tensor::zeros([n, 1, 2], &device)],
            1,
        );
        let labels = Tensor::cat(vec![labels, Tensor::full([n, 1], -1.0, &device)], 1);
        let pe = self
            .pe_layer
            .encode(coords.div_scalar(self.input_size as f64));
        let labels = labels.unsqueeze_dim::<3>(2);
        let is = |value: f64| labels.clone().equal_elem(value).float();
        let padding = is(-1.0);
        pe * (padding.clone().neg().add_scalar(1.0))
            + padding * Self::embedding_row(&self.not_a_point_embed)
            + is(0.0) * Self::embedding_row(&self.point_embeddings[0])
            + is(1.0) * Self::embedding_row(&self.point_embeddings[1])
    }

    fn embed_boxes(&self, boxes: Tensor<2>) -> Tensor<3> {
        let [n, _] = boxes.dims();
        let corners = boxes.add_scalar(0.5).reshape([n, 2, 2]);
        let pe = self
            .pe_layer
            .encode(corners.div_scalar(self.input_size as f64));
        let corner_embeddings = Tensor::cat(
            vec![
                Self::embedding_row(&self.point_embeddings[2]),
                Self::embedding_row(&self.point_embeddings[3]),
            ],
            1,
        );
        pe + corner_embeddings
    }
}
