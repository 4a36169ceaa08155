//! The ResNet bottom-up network of the detector, as detectron2's
//! `modeling/backbone/resnet.py` (MSRA layout, FrozenBN, stride in the 1x1
//! convolution of bottleneck blocks): stem (7x7/2 convolution, ReLU, 3x3/2
//! max-pool), then stages res2..res5 of residual blocks, res3..res5 starting
//! with stride 2. Field names follow detectron2's state dict
//! (`stem.conv1.weight`, `res2.0.conv1.norm.running_var`, `res3.0.shortcut`).

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};

use super::config::BackboneConfig;
use crate::nn::FrozenBatchNorm2d;

/// A bias-free convolution followed by FrozenBN (detectron2 `Conv2d` with
/// `norm="FrozenBN"`), initialised as detectron2's `c2_msra_fill`
/// (Kaiming-normal over the fan-out).
#[derive(Module, Debug)]
pub struct ConvNorm {
    pub weight: Param<Tensor<4>>,
    pub norm: FrozenBatchNorm2d,
    pub stride: usize,
    pub padding: usize,
}

impl ConvNorm {
    pub fn new(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &Device) -> Self {
        let fan_out = c_out * kernel * kernel;
        Self {
            weight: Initializer::KaimingNormal {
                gain: 2f64.sqrt(),
                fan_out_only: true,
            }
            .init_with([c_out, c_in, kernel, kernel], None, Some(fan_out), device),
            norm: FrozenBatchNorm2d::new(c_out, device),
            stride,
            padding: kernel / 2,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let options = ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1);
        self.norm
            .forward(conv2d(x, self.weight.val(), None, options))
    }
}

/// The stem: 7x7/2 convolution with FrozenBN, ReLU, 3x3/2 max-pool.
#[derive(Module, Debug)]
pub struct Stem {
    pub conv1: ConvNorm,
}

impl Stem {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.conv1.forward(x));
        max_pool2d(
            x,
            MaxPoolOptions::new([3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1]),
        )
    }
}

/// A residual block. Bottleneck blocks (depth >= 50) have `conv3`:
/// 1x1 (carrying the stride), 3x3, 1x1; basic blocks (depth 18/34) have
/// two 3x3 convolutions, the first carrying the stride. `shortcut` projects
/// the input when the channel count changes; ReLU follows the sum.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    pub conv1: ConvNorm,
    pub conv2: ConvNorm,
    pub conv3: Option<ConvNorm>,
    pub shortcut: Option<ConvNorm>,
}

impl ResidualBlock {
    fn bottleneck(c_in: usize, c_mid: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: ConvNorm::new(c_in, c_mid, 1, stride, device),
            conv2: ConvNorm::new(c_mid, c_mid, 3, 1, device),
            conv3: Some(ConvNorm::new(c_mid, c_out, 1, 1, device)),
            shortcut: (c_in != c_out).then(|| ConvNorm::new(c_in, c_out, 1, stride, device)),
        }
    }

    fn basic(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: ConvNorm::new(c_in, c_out, 3, stride, device),
            conv2: ConvNorm::new(c_out, c_out, 3, 1, device),
            conv3: None,
            shortcut: (c_in != c_out).then(|| ConvNorm::new(c_in, c_out, 1, stride, device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.shortcut {
            Some(shortcut) => shortcut.forward(x.clone()),
            None => x.clone(),
        };
        let mut out = relu(self.conv1.forward(x));
        out = self.conv2.forward(out);
        if let Some(conv3) = &self.conv3 {
            out = conv3.forward(relu(out));
        }
        relu(out + identity)
    }
}

/// ResNet stem and stages res2..res5.
#[derive(Module, Debug)]
pub struct ResNet {
    pub stem: Stem,
    pub res2: Vec<ResidualBlock>,
    pub res3: Vec<ResidualBlock>,
    pub res4: Vec<ResidualBlock>,
    pub res5: Vec<ResidualBlock>,
}

impl ResNet {
    pub fn new(config: &BackboneConfig, input_channels: usize, device: &Device) -> Self {
        let blocks = config.depth.blocks_per_stage();
        let out_channels = config.stage_out_channels();
        let mut c_in = config.stem_out_channels;
        let [res2, res3, res4, res5] = std::array::from_fn(|stage| {
            let c_out = out_channels[stage];
            let c_mid = config.width_per_group << stage;
            let first_stride = if stage == 0 { 1 } else { 2 };
            (0..blocks[stage])
                .map(|i| {
                    let stride = if i == 0 { first_stride } else { 1 };
                    let block = if config.depth.uses_bottleneck() {
                        ResidualBlock::bottleneck(c_in, c_mid, c_out, stride, device)
                    } else {
                        ResidualBlock::basic(c_in, c_out, stride, device)
                    };
                    c_in = c_out;
                    block
                })
                .collect::<Vec<_>>()
        });
        Self {
            stem: Stem {
                conv1: ConvNorm::new(input_channels, config.stem_out_channels, 7, 2, device),
            },
            res2,
            res3,
            res4,
            res5,
        }
    }

    /// Features of res2..res5 (strides 4, 8, 16, 32).
    pub fn forward(&self, x: Tensor<4>) -> [Tensor<4>; 4] {
        let run = |x: Tensor<4>, stage: &[ResidualBlock]| {
            stage.iter().fold(x, |x, block| block.forward(x))
        };
        let c2 = run(self.stem.forward(x), &self.res2);
        let c3 = run(c2.clone(), &self.res3);
        let c4 = run(c3.clone(), &self.res4);
        let c5 = run(c4.clone(), &self.res5);
        [c2, c3, c4, c5]
    }
}
