//! DeepWV3Plus: DeepLabv3+ on the WideResNet38 trunk, the segmentation
//! network of RPL (`yyliu01/RPL`, `rpl.code/model/wide_network.py`) and
//! PEBAL (`tianyu0207/PEBAL`, `code/model/wide_network.py`), both taken from
//! NVIDIA's semantic-segmentation (sdcnet branch).
//!
//! Trunk ([`WiderResNetA2`]) -> ASPP on the stride-8 features -> `bot_aspp`
//! (1x1), upsampled to the stride-2 `mod2` features and concatenated after
//! `bot_fine(mod2)` (1x1) -> `final` (3x3 conv, BN, ReLU, 3x3 conv, BN,
//! ReLU, 1x1 conv to the classes) -> upsampled to the input size. Every
//! upsampling is bilinear with `align_corners=True` (`mynn.Upsample`).
//!
//! RPL adds a residual anomaly block (`residual_block`: its own ASPP,
//! `bot_atten_aspp`, upsampling, `atten_aspp_final`) whose output is added
//! to the decoder input; RPL's network returns the logits with and without
//! it and its `valid.py` scores the ones with it, which are what
//! [`DeepWv3Plus::forward`] returns when the block is present.
//!
//! Deviations: the state dict's `final` is our field `head` (`final` is a
//! Rust keyword); in the residual block the 1x1 `atten_aspp_final` runs
//! before the upsampling instead of after it: both are linear, the
//! convolution has no bias and bilinear weights sum to one, so the result
//! is the same up to rounding, at a sixteenth of the cost.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

use super::aspp::Aspp;
use super::config::ScorerConfig;
use super::layers::conv;
use super::wider_resnet::WiderResNetA2;
use crate::nn::FrozenBatchNorm2d;

/// The classifier (`final` in the state dict).
#[derive(Module, Debug)]
pub struct Head {
    pub conv1: Conv2d,
    pub bn1: FrozenBatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: FrozenBatchNorm2d,
    pub conv3: Conv2d,
}

impl Head {
    fn new(c_in: usize, width: usize, classes: usize, device: &Device) -> Self {
        Self {
            conv1: conv(c_in, width, 3, 1, 1, device),
            bn1: FrozenBatchNorm2d::new(width, device),
            conv2: conv(width, width, 3, 1, 1, device),
            bn2: FrozenBatchNorm2d::new(width, device),
            conv3: conv(width, classes, 1, 1, 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let x = relu(self.bn2.forward(self.conv2.forward(x)));
        self.conv3.forward(x)
    }
}

/// RPL's `ResidualAnomalyBlock`.
#[derive(Module, Debug)]
pub struct ResidualAnomalyBlock {
    pub atten_aspp: Aspp,
    pub bot_atten_aspp: Conv2d,
    pub atten_aspp_final: Conv2d,
}

impl ResidualAnomalyBlock {
    /// The residual for the decoder input, at `size` (the `mod2` map).
    fn forward(&self, x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
        let x = self.bot_atten_aspp.forward(self.atten_aspp.forward(x));
        upsample(self.atten_aspp_final.forward(x), size)
    }
}

/// The DeepWV3Plus network (without the reference's `Network` wrapper and
/// its `branch1.` prefix).
#[derive(Module, Debug)]
pub struct DeepWv3Plus {
    pub trunk: WiderResNetA2,
    pub aspp: Aspp,
    pub bot_fine: Conv2d,
    pub bot_aspp: Conv2d,
    pub head: Head,
    pub residual_block: Option<ResidualAnomalyBlock>,
    #[module(skip)]
    pub config: ScorerConfig,
}

impl DeepWv3Plus {
    /// A network with freshly initialised parameters.
    pub fn new(config: ScorerConfig, device: &Device) -> Self {
        let c = &config;
        let trunk_out = c.trunk_channels();
        let aspp = |device| Aspp::new(trunk_out, c.aspp_channels, c.aspp_rates, device);
        let decoder_in = c.fine_channels + c.decoder_channels;
        Self {
            trunk: WiderResNetA2::new(c, device),
            aspp: aspp(device),
            bot_fine: conv(c.skip_channels(), c.fine_channels, 1, 1, 1, device),
            bot_aspp: conv(5 * c.aspp_channels, c.decoder_channels, 1, 1, 1, device),
            head: Head::new(decoder_in, c.head_channels, c.num_classes, device),
            residual_block: c.residual_channels.map(|width| ResidualAnomalyBlock {
                atten_aspp: aspp(device),
                bot_atten_aspp: conv(5 * c.aspp_channels, width, 1, 1, 1, device),
                atten_aspp_final: conv(width, decoder_in, 1, 1, 1, device),
            }),
            config,
        }
    }

    /// Class logits `[B, num_classes, H, W]` of ImageNet-normalised images
    /// `[B, 3, H, W]` (see [`super::input`]).
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = input.dims();
        let (m2, x) = self.trunk.forward(input);
        let [_, _, h2, w2] = m2.dims();
        let up = upsample(
            self.bot_aspp.forward(self.aspp.forward(x.clone())),
            [h2, w2],
        );
        let mut dec0 = Tensor::cat(vec![self.bot_fine.forward(m2), up], 1);
        if let Some(block) = &self.residual_block {
            dec0 = dec0 + block.forward(x, [h2, w2]);
        }
        upsample(self.head.forward(dec0), [h, w])
    }
}

/// Bilinear resize with `align_corners=True` (`mynn.Upsample`).
fn upsample(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(true)
            .with_output_size(size),
    )
}
