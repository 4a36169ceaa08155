//! Parameter initialisation as detectron2's, so that training from scratch
//! starts where detectron2's does: `c2_xavier_fill` (Kaiming-uniform with
//! a = 1) for the FPN and the box head's fully connected layers, Gaussians
//! of std 0.01 for the RPN head and the class scores and 0.001 for the box
//! deltas, biases zero. (The ResNet's `c2_msra_fill` is in `resnet.rs`.)

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::Device;

/// `c2_xavier_fill`: uniform in `±sqrt(3 / fan_in)`.
pub const XAVIER_FILL: Initializer = Initializer::KaimingUniform {
    gain: 1.0,
    fan_out_only: false,
};

/// A Gaussian of mean 0 and standard deviation `std`.
pub fn normal(std: f64) -> Initializer {
    Initializer::Normal { mean: 0.0, std }
}

/// A convolution whose weight follows `initializer` and whose bias is zero.
pub fn conv(config: Conv2dConfig, initializer: Initializer, device: &Device) -> Conv2d {
    let mut conv = config.with_initializer(initializer).init(device);
    let channels = conv.weight.dims()[0];
    conv.bias = conv
        .bias
        .map(|_| Initializer::Zeros.init([channels], device));
    conv
}

/// A linear layer whose weight follows `initializer` and whose bias is zero.
pub fn linear(d_in: usize, d_out: usize, initializer: Initializer, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(d_in, d_out)
        .with_initializer(initializer)
        .init(device);
    linear.bias = linear
        .bias
        .map(|_| Initializer::Zeros.init([d_out], device));
    linear
}
