//! The feature pyramid over the ResNet, as detectron2's
//! `modeling/backbone/fpn.py` (`build_resnet_fpn_backbone`): 1x1 lateral
//! convolutions on res2..res5, a top-down path with nearest 2x upsampling
//! and sums, a 3x3 output convolution per level, and P6 as P5 subsampled by
//! 2 (`LastLevelMaxPool`: max-pool of kernel 1, stride 2).
//!
//! detectron2 names the convolutions `fpn_lateral{2..5}` and
//! `fpn_output{2..5}`; here they are lists indexed from P2 (s2m-weights
//! maps the names).

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

use super::config::BackboneConfig;
use super::init::{self, XAVIER_FILL};
use super::resnet::ResNet;

/// Input sizes must be multiples of this (the coarsest stride of P2..P5),
/// so every level is exactly twice the next; detectron2 pads the input.
pub const SIZE_DIVISIBILITY: usize = 32;

/// ResNet + FPN: the detector's backbone, returning P2..P6.
#[derive(Module, Debug)]
pub struct FpnBackbone {
    pub bottom_up: ResNet,
    pub fpn_lateral: Vec<Conv2d>,
    pub fpn_output: Vec<Conv2d>,
}

impl FpnBackbone {
    pub fn new(config: &BackboneConfig, input_channels: usize, device: &Device) -> Self {
        let out = config.fpn_out_channels;
        let fpn_lateral = config
            .stage_out_channels()
            .iter()
            .map(|&c| init::conv(Conv2dConfig::new([c, out], [1, 1]), XAVIER_FILL, device))
            .collect();
        let fpn_output = (0..4)
            .map(|_| {
                let config = Conv2dConfig::new([out, out], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
                init::conv(config, XAVIER_FILL, device)
            })
            .collect();
        Self {
            bottom_up: ResNet::new(config, input_channels, device),
            fpn_lateral,
            fpn_output,
        }
    }

    /// P2..P6 of an input whose height and width are multiples of
    /// [`SIZE_DIVISIBILITY`].
    pub fn forward(&self, x: Tensor<4>) -> [Tensor<4>; 5] {
        let [c2, c3, c4, c5] = self.bottom_up.forward(x);
        let m5 = self.fpn_lateral[3].forward(c5);
        let m4 = self.fpn_lateral[2].forward(c4) + upsample_nearest_2x(m5.clone());
        let m3 = self.fpn_lateral[1].forward(c3) + upsample_nearest_2x(m4.clone());
        let m2 = self.fpn_lateral[0].forward(c2) + upsample_nearest_2x(m3.clone());
        let p5 = self.fpn_output[3].forward(m5);
        let p6 = max_pool2d(p5.clone(), MaxPoolOptions::new([1, 1]).with_stride([2, 2]));
        [
            self.fpn_output[0].forward(m2),
            self.fpn_output[1].forward(m3),
            self.fpn_output[2].forward(m4),
            p5,
            p6,
        ]
    }
}

/// Nearest-neighbour upsampling by exactly 2 (each value becomes 2x2).
fn upsample_nearest_2x(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1])
        .expand([n, c, h, 2, w, 2])
        .reshape([n, c, 2 * h, 2 * w])
}
