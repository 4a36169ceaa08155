//! Small layers shared by several models and missing from burn-nn in the
//! exact form the PyTorch references use.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

/// Layer normalisation over the channel dimension of an NCHW tensor, as
/// `segment_anything/modeling/common.py::LayerNorm2d` (eps 1e-6).
#[derive(Module, Debug)]
pub struct LayerNorm2d {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub eps: f64,
}

impl LayerNorm2d {
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            weight: Initializer::Ones.init([channels], device),
            bias: Initializer::Zeros.init([channels], device),
            eps: 1e-6,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mean = x.clone().mean_dim(1);
        let centred = x - mean;
        let var = centred.clone().square().mean_dim(1);
        let normed = centred / var.add_scalar(self.eps).sqrt();
        let c = self.weight.dims()[0];
        normed * self.weight.val().reshape([1, c, 1, 1]) + self.bias.val().reshape([1, c, 1, 1])
    }
}

/// BatchNorm2d in inference mode: a per-channel affine map from the running
/// statistics. Parameter names follow PyTorch's `BatchNorm2d`
/// (`weight`, `bias`, `running_mean`, `running_var`); eps 1e-5. The
/// statistics never receive gradients; `weight` and `bias` do when a model
/// is trained.
#[derive(Module, Debug)]
pub struct FrozenBatchNorm2d {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub running_mean: Param<Tensor<1>>,
    pub running_var: Param<Tensor<1>>,
    pub eps: f64,
}

impl FrozenBatchNorm2d {
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            weight: Initializer::Ones.init([channels], device),
            bias: Initializer::Zeros.init([channels], device),
            running_mean: Initializer::Zeros.init([channels], device),
            running_var: Initializer::Ones.init([channels], device),
            eps: 1e-5,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.weight.dims()[0];
        let running_var = self.running_var.val().detach();
        let running_mean = self.running_mean.val().detach();
        let scale = self.weight.val() / running_var.add_scalar(self.eps).sqrt();
        let shift = self.bias.val() - running_mean * scale.clone();
        x * scale.reshape([1, c, 1, 1]) + shift.reshape([1, c, 1, 1])
    }
}

/// A stack of linear layers with ReLU between them (none after the last),
/// as `segment_anything/modeling/mask_decoder.py::MLP`.
#[derive(Module, Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
}

impl Mlp {
    pub fn new(
        input: usize,
        hidden: usize,
        output: usize,
        num_layers: usize,
        device: &Device,
    ) -> Self {
        let layers = (0..num_layers)
            .map(|i| {
                let d_in = if i == 0 { input } else { hidden };
                let d_out = if i + 1 == num_layers { output } else { hidden };
                LinearConfig::new(d_in, d_out).init(device)
            })
            .collect();
        Self { layers }
    }

    pub fn forward<const D: usize>(&self, mut x: Tensor<D>) -> Tensor<D> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}

/// `softmax(q kᵀ · scale + bias) v` over `[batch, heads, tokens, dim]`
/// tensors; `bias` broadcasts over the batch. Every attention of SAM and
/// TinyViT goes through here, so one place decides how it runs.
pub fn scaled_dot_product_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    scale: f64,
    bias: Option<Tensor<4>>,
) -> Tensor<4> {
    let mut scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
    if let Some(bias) = bias {
        scores = scores + bias;
    }
    softmax(scores, 3).matmul(v)
}

/// The largest attention score matrix computed at once, in bytes.
const MAX_SCORE_BYTES: usize = 64 << 20;

/// [`scaled_dot_product_attention`] computed in chunks of query rows so
/// that no score matrix exceeds [`MAX_SCORE_BYTES`]: ViT-B's global blocks
/// would otherwise hold 12 x 4096 x 4096 floats (768 MiB) at once, more
/// than lavapipe allocates and than WebGPU's default 128 MiB binding.
/// `bias(start, len)` gives the additive bias `[batch, heads, len, keys]`
/// of query rows `start..start + len`, so a large bias is never built whole
/// either. Softmax is per row, so chunking changes no result.
pub fn query_chunked_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    scale: f64,
    bias: impl Fn(usize, usize) -> Tensor<4>,
) -> Tensor<4> {
    let [b, h, n, _] = q.dims();
    let keys = k.dims()[2];
    let rows = (MAX_SCORE_BYTES / (b * h * keys * 4).max(1)).clamp(1, n.max(1));
    let chunks = (0..n)
        .step_by(rows)
        .map(|start| {
            let len = rows.min(n - start);
            let q_rows = q.clone().narrow(2, start, len);
            scaled_dot_product_attention(
                q_rows,
                k.clone(),
                v.clone(),
                scale,
                Some(bias(start, len)),
            )
        })
        .collect();
    Tensor::cat(chunks, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{TensorData, Tolerance};

    #[test]
    fn layer_norm_2d_normalises_each_pixel_over_channels() {
        let device = Device::flex();
        let norm = LayerNorm2d::new(2, &device);
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 5.0, 3.0, 7.0], [1, 2, 1, 2]),
            &device,
        );
        let y = norm.forward(x);
        // Pixel 0: channels (1, 3) -> (-1, 1); pixel 1: (5, 7) -> (-1, 1).
        y.into_data().assert_approx_eq::<f32>(
            &TensorData::new(vec![-1.0f32, -1.0, 1.0, 1.0], [1, 2, 1, 2]),
            Tolerance::absolute(1e-5),
        );
    }

    #[test]
    fn frozen_batch_norm_uses_running_statistics() {
        let device = Device::flex();
        let mut bn = FrozenBatchNorm2d::new(1, &device);
        bn.running_mean = Param::from_tensor(Tensor::from_floats([2.0], &device));
        bn.running_var = Param::from_tensor(Tensor::from_floats([4.0 - 1e-5], &device));
        bn.weight = Param::from_tensor(Tensor::from_floats([3.0], &device));
        bn.bias = Param::from_tensor(Tensor::from_floats([1.0], &device));
        let y = bn.forward(Tensor::<4>::from_data(
            TensorData::new(vec![4.0f32], [1, 1, 1, 1]),
            &device,
        ));
        // (4 - 2) / 2 * 3 + 1 = 4
        y.into_data().assert_approx_eq::<f32>(
            &TensorData::new(vec![4.0f32], [1, 1, 1, 1]),
            Tolerance::absolute(1e-4),
        );
    }
}
