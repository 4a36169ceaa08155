//! SAM's ViT image encoder (ViT-B/L/H).
//!
//! Follows `segment_anything/modeling/image_encoder.py` of Segment Anything
//! (<https://github.com/facebookresearch/segment-anything>, Apache-2.0):
//! 16x16 patches, absolute position embedding, transformer blocks with
//! windowed attention (window 14, the grid zero-padded to a multiple of it
//! after the block's first LayerNorm) except at the global-attention
//! indices, decomposed relative position bias (tables linearly interpolated
//! when their length differs from `2 * size - 1`), and a neck to 256
//! channels. Configurations from REFERENCE.md.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::gelu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, PadMode};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::nn::{LayerNorm2d, query_chunked_attention};

#[derive(Debug, Clone, PartialEq)]
pub struct VitConfig {
    pub img_size: usize,
    pub patch_size: usize,
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
    pub mlp_ratio: usize,
    pub out_chans: usize,
    pub window_size: usize,
    pub global_attn_indexes: Vec<usize>,
    /// Length of the relative-position tables of windowed blocks; the
    /// official checkpoints use `2 * window_size - 1`.
    pub rel_pos_len_windowed: usize,
    /// Length of the tables of global blocks; officially `2 * grid - 1`.
    pub rel_pos_len_global: usize,
}

impl VitConfig {
    fn sam(
        embed_dim: usize,
        depth: usize,
        num_heads: usize,
        global_attn_indexes: Vec<usize>,
    ) -> Self {
        Self::new(
            1024,
            16,
            embed_dim,
            depth,
            num_heads,
            256,
            14,
            global_attn_indexes,
        )
    }

    pub fn vit_b() -> Self {
        Self::sam(768, 12, 12, vec![2, 5, 8, 11])
    }

    pub fn vit_l() -> Self {
        Self::sam(1024, 24, 16, vec![5, 11, 17, 23])
    }

    pub fn vit_h() -> Self {
        Self::sam(1280, 32, 16, vec![7, 15, 23, 31])
    }

    /// A configuration with the official table lengths.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        img_size: usize,
        patch_size: usize,
        embed_dim: usize,
        depth: usize,
        num_heads: usize,
        out_chans: usize,
        window_size: usize,
        global_attn_indexes: Vec<usize>,
    ) -> Self {
        let grid = img_size / patch_size;
        Self {
            img_size,
            patch_size,
            embed_dim,
            depth,
            num_heads,
            mlp_ratio: 4,
            out_chans,
            window_size,
            global_attn_indexes,
            rel_pos_len_windowed: 2 * window_size - 1,
            rel_pos_len_global: 2 * grid - 1,
        }
    }

    pub fn init(&self, device: &Device) -> ImageEncoderVit {
        let grid = self.img_size / self.patch_size;
        let d = self.embed_dim;
        let blocks = (0..self.depth)
            .map(|i| {
                let global = self.global_attn_indexes.contains(&i);
                let (window_size, rel_len) = if global {
                    (0, self.rel_pos_len_global)
                } else {
                    (self.window_size, self.rel_pos_len_windowed)
                };
                let norm = || LayerNormConfig::new(d).with_epsilon(1e-6).init(device);
                VitBlock {
                    norm1: norm(),
                    attn: VitAttention {
                        qkv: LinearConfig::new(d, 3 * d).init(device),
                        proj: LinearConfig::new(d, d).init(device),
                        rel_pos_h: Initializer::Zeros.init([rel_len, d / self.num_heads], device),
                        rel_pos_w: Initializer::Zeros.init([rel_len, d / self.num_heads], device),
                        num_heads: self.num_heads,
                    },
                    norm2: norm(),
                    mlp: MlpBlock {
                        lin1: LinearConfig::new(d, d * self.mlp_ratio).init(device),
                        lin2: LinearConfig::new(d * self.mlp_ratio, d).init(device),
                    },
                    window_size,
                }
            })
            .collect();
        ImageEncoderVit {
            patch_embed: VitPatchEmbed {
                proj: Conv2dConfig::new([3, d], [self.patch_size, self.patch_size])
                    .with_stride([self.patch_size, self.patch_size])
                    .init(device),
            },
            pos_embed: Initializer::Zeros.init([1, grid, grid, d], device),
            blocks,
            neck: Neck::new(d, self.out_chans, device),
        }
    }
}

/// 1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d (no conv biases): the neck
/// shared by the ViT and TinyViT encoders.
#[derive(Module, Debug)]
pub struct Neck {
    pub conv1: Conv2d,
    pub norm1: LayerNorm2d,
    pub conv2: Conv2d,
    pub norm2: LayerNorm2d,
}

impl Neck {
    pub fn new(c_in: usize, c_out: usize, device: &Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([c_in, c_out], [1, 1])
                .with_bias(false)
                .init(device),
            norm1: LayerNorm2d::new(c_out, device),
            conv2: Conv2dConfig::new([c_out, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            norm2: LayerNorm2d::new(c_out, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.norm1.forward(self.conv1.forward(x));
        self.norm2.forward(self.conv2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct VitPatchEmbed {
    pub proj: Conv2d,
}

/// Linear, GELU, linear (`MLPBlock` of SAM's `common.py`).
#[derive(Module, Debug)]
pub struct MlpBlock {
    pub lin1: Linear,
    pub lin2: Linear,
}

impl MlpBlock {
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.lin2.forward(gelu(self.lin1.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct VitAttention {
    pub qkv: Linear,
    pub proj: Linear,
    pub rel_pos_h: Param<Tensor<2>>,
    pub rel_pos_w: Param<Tensor<2>>,
    pub num_heads: usize,
}

impl VitAttention {
    /// `x`: `[B, H, W, C]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, w, c] = x.dims();
        let (heads, n) = (self.num_heads, h * w);
        let hd = c / heads;
        let qkv = self.qkv.forward(x).reshape([b, n, 3, heads, hd]);
        let part = |i: usize| {
            qkv.clone()
                .narrow(2, i, 1)
                .reshape([b, n, heads, hd])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (part(0), part(1), part(2));
        let (rel_h, rel_w) = decomposed_rel_pos(
            q.clone().reshape([b * heads, h, w, hd]),
            self.rel_pos_h.val(),
            self.rel_pos_w.val(),
        );
        // Bias of query rows start..start + len: rel_h over key rows plus
        // rel_w over key columns, `[b, heads, len, h * w]`.
        let bias = |start: usize, len: usize| {
            let rh = rel_h
                .clone()
                .narrow(1, start, len)
                .reshape([b * heads, len, h, 1]);
            let rw = rel_w
                .clone()
                .narrow(1, start, len)
                .reshape([b * heads, len, 1, w]);
            (rh + rw).reshape([b, heads, len, n])
        };
        let out = query_chunked_attention(q, k, v, (hd as f64).powf(-0.5), bias);
        self.proj.forward(out.swap_dims(1, 2).reshape([b, h, w, c]))
    }
}

/// The relative-position table for `size` query and key positions:
/// `[size, size, C]` with entry `(i, j)` = `table[i - j + size - 1]`, after
/// resizing `table` linearly to `2 * size - 1` rows when needed
/// (`get_rel_pos`; queries and keys always have the same size here).
fn rel_pos_for(table: Tensor<2>, size: usize) -> Tensor<3> {
    let [len, c] = table.dims();
    let wanted = 2 * size - 1;
    let table = if len == wanted {
        table
    } else {
        let as_image = table.swap_dims(0, 1).reshape([1, c, 1, len]);
        let options = InterpolateOptions {
            mode: InterpolateMode::Bilinear,
            align_corners: false,
            output_size: Some([1, wanted]),
            scale_factor: None,
        };
        interpolate(as_image, options)
            .reshape([c, wanted])
            .swap_dims(0, 1)
    };
    let idx: Vec<i64> = (0..size)
        .flat_map(|i| (0..size).map(move |j| (i + size - 1 - j) as i64))
        .collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [size * size]), &table.device());
    table.select(0, idx).reshape([size, size, c])
}

/// The two factors of `add_decomposed_rel_pos` for queries `q`
/// `[B, H, W, C]` (unscaled): `rel_h` `[B, H*W, H]` and `rel_w`
/// `[B, H*W, W]`; the bias of query `(qy, qx)` and key `(ky, kx)` is
/// `rel_h[q, ky] + rel_w[q, kx]` = `q · Rh[qy, ky] + q · Rw[qx, kx]`.
fn decomposed_rel_pos(
    q: Tensor<4>,
    rel_pos_h: Tensor<2>,
    rel_pos_w: Tensor<2>,
) -> (Tensor<3>, Tensor<3>) {
    let [b, h, w, c] = q.dims();
    let rh = rel_pos_for(rel_pos_h, h); // [h, kh, c]
    let rw = rel_pos_for(rel_pos_w, w); // [w, kw, c]
    // rel_h[b, y, x, ky] = sum_c q[b, y, x, c] * rh[y, ky, c]
    let q_rows = q.clone().swap_dims(0, 1).reshape([h, b * w, c]);
    let rel_h = q_rows
        .matmul(rh.swap_dims(1, 2))
        .reshape([h, b, w, h])
        .swap_dims(0, 1);
    // rel_w[b, y, x, kx] = sum_c q[b, y, x, c] * rw[x, kx, c]
    let q_cols = q.permute([2, 0, 1, 3]).reshape([w, b * h, c]);
    let rel_w = q_cols
        .matmul(rw.swap_dims(1, 2))
        .reshape([w, b, h, w])
        .permute([1, 2, 0, 3]);
    (rel_h.reshape([b, h * w, h]), rel_w.reshape([b, h * w, w]))
}

#[derive(Module, Debug)]
pub struct VitBlock {
    pub norm1: LayerNorm,
    pub attn: VitAttention,
    pub norm2: LayerNorm,
    pub mlp: MlpBlock,
    /// 0 for global attention.
    pub window_size: usize,
}

impl VitBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, w, c] = x.dims();
        let normed = self.norm1.forward(x.clone());
        let attended = if self.window_size == 0 {
            self.attn.forward(normed)
        } else {
            let ws = self.window_size;
            let (pad_h, pad_w) = ((ws - h % ws) % ws, (ws - w % ws) % ws);
            let (ph, pw) = (h + pad_h, w + pad_w);
            let (nh, nw) = (ph / ws, pw / ws);
            let windows = normed
                .pad(
                    [(0, 0), (0, pad_h), (0, pad_w), (0, 0)],
                    PadMode::Constant(0.0),
                )
                .reshape([b, nh, ws, nw, ws, c])
                .swap_dims(2, 3)
                .reshape([b * nh * nw, ws, ws, c]);
            self.attn
                .forward(windows)
                .reshape([b, nh, nw, ws, ws, c])
                .swap_dims(2, 3)
                .reshape([b, ph, pw, c])
                .slice([0..b, 0..h, 0..w, 0..c])
        };
        let x = x + attended;
        x.clone() + self.mlp.forward(self.norm2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct ImageEncoderVit {
    pub patch_embed: VitPatchEmbed,
    pub pos_embed: Param<Tensor<4>>,
    pub blocks: Vec<VitBlock>,
    pub neck: Neck,
}

impl ImageEncoderVit {
    /// `x`: the pre-processed image `[B, 3, S, S]`; returns `[B, 256, S/16, S/16]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.patch_embed.proj.forward(x).permute([0, 2, 3, 1]) + self.pos_embed.val();
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.neck.forward(x.permute([0, 3, 1, 2]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_pos_table_is_indexed_by_offset() {
        let device = Device::flex();
        // Table rows 0..5 (size 3 -> 5 rows), one channel holding the row index.
        let table = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 1.0, 2.0, 3.0, 4.0], [5, 1]),
            &device,
        );
        let r = rel_pos_for(table, 3)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // (i, j) -> i - j + 2
        assert_eq!(r, vec![2.0, 1.0, 0.0, 3.0, 2.0, 1.0, 4.0, 3.0, 2.0]);
    }
}
