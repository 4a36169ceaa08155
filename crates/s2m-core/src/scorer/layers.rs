//! The two building blocks every part of the DeepWV3Plus network uses: a
//! bias-free convolution (all of the reference's are) and PyTorch's
//! `nn.Sequential(Conv2d, BatchNorm2d, ReLU)` of the ASPP branches.
//! BatchNorm runs in inference mode on its running statistics
//! ([`FrozenBatchNorm2d`], eps 1e-5 as `nn.BatchNorm2d`).

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::nn::FrozenBatchNorm2d;

/// A bias-free `kernel` x `kernel` convolution padded by `dilation *
/// (kernel / 2)` on every side, as the reference's `nn.Conv2d(..., bias=False)`.
pub fn conv(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    device: &Device,
) -> Conv2d {
    let pad = dilation * (kernel / 2);
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_dilation([dilation, dilation])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .init(device)
}

/// Convolution, BatchNorm, ReLU (state-dict children `0` and `1`, renamed
/// `conv` and `bn` by s2m-weights).
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    pub conv: Conv2d,
    pub bn: FrozenBatchNorm2d,
}

impl ConvBnRelu {
    pub fn new(c_in: usize, c_out: usize, kernel: usize, dilation: usize, device: &Device) -> Self {
        Self {
            conv: conv(c_in, c_out, kernel, 1, dilation, device),
            bn: FrozenBatchNorm2d::new(c_out, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}
