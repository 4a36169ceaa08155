//! The WideResNet38 trunk of DeepWV3Plus: `WiderResNetA2(structure=[3, 3, 6,
//! 3, 1, 1], dilation=True)` from the reference's `wide_resnet_base.py`
//! (adapted there from mapillary/inplace_abn), as far as DeepWV3Plus uses
//! it: `mod1`..`mod7` with the max-pools `pool2` and `pool3`; its `bn_out`
//! and classifier are not part of the network.
//!
//! `mod1` is one 3x3 convolution; `pool2` and `pool3` are 3x3/2 max-pools
//! (padding 1); the first block of `mod4` has stride 2, so the trunk ends
//! at output stride 8; `mod5` is dilated by 2, `mod6` and `mod7` by 4.
//! The blocks are pre-activation ("identity mapping") residual blocks.
//! Deviation: the dropout layers of `mod6`/`mod7` are left out (identities
//! at inference, no parameters).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

use super::config::ScorerConfig;
use super::layers::conv;
use crate::nn::FrozenBatchNorm2d;

/// `IdentityResidualBlock`: BN+ReLU of the input (`bn1`), then conv1,
/// BN+ReLU (`bn2`), conv2 and, for a bottleneck, BN+ReLU (`bn3`) and
/// conv3. The shortcut is the input itself, or `proj_conv` of `bn1`'s
/// output when the stride or the width changes. The reference's
/// `convs.*` children sit directly in the block here.
#[derive(Module, Debug)]
pub struct IdentityResidualBlock {
    pub bn1: FrozenBatchNorm2d,
    pub conv1: Conv2d,
    pub bn2: FrozenBatchNorm2d,
    pub conv2: Conv2d,
    pub bn3: Option<FrozenBatchNorm2d>,
    pub conv3: Option<Conv2d>,
    pub proj_conv: Option<Conv2d>,
}

impl IdentityResidualBlock {
    /// A block from `c_in` channels through `widths` (two entries: two 3x3
    /// convolutions; three: 1x1, 3x3, 1x1). `stride` applies to conv1 and
    /// the projection, `dilation` to the 3x3 convolutions.
    pub fn new(
        c_in: usize,
        widths: &[usize],
        stride: usize,
        dilation: usize,
        device: &Device,
    ) -> Self {
        let c_out = *widths.last().expect("widths are never empty");
        let bottleneck = widths.len() == 3;
        let (conv1, conv2) = if bottleneck {
            (
                conv(c_in, widths[0], 1, stride, 1, device),
                conv(widths[0], widths[1], 3, 1, dilation, device),
            )
        } else {
            (
                conv(c_in, widths[0], 3, stride, dilation, device),
                conv(widths[0], widths[1], 3, 1, dilation, device),
            )
        };
        Self {
            bn1: FrozenBatchNorm2d::new(c_in, device),
            conv1,
            bn2: FrozenBatchNorm2d::new(widths[0], device),
            conv2,
            bn3: bottleneck.then(|| FrozenBatchNorm2d::new(widths[1], device)),
            conv3: bottleneck.then(|| conv(widths[1], widths[2], 1, 1, 1, device)),
            proj_conv: (stride != 1 || c_in != c_out)
                .then(|| conv(c_in, c_out, 1, stride, 1, device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pre = relu(self.bn1.forward(x.clone()));
        let shortcut = match &self.proj_conv {
            Some(proj) => proj.forward(pre.clone()),
            None => x,
        };
        let mut out = self.conv1.forward(pre);
        out = self.conv2.forward(relu(self.bn2.forward(out)));
        if let (Some(bn3), Some(conv3)) = (&self.bn3, &self.conv3) {
            out = conv3.forward(relu(bn3.forward(out)));
        }
        out + shortcut
    }
}

/// `mod1`: the stem convolution.
#[derive(Module, Debug)]
pub struct Stem {
    pub conv1: Conv2d,
}

/// The trunk: `mod1`..`mod7`.
#[derive(Module, Debug)]
pub struct WiderResNetA2 {
    pub mod1: Stem,
    pub mod2: Vec<IdentityResidualBlock>,
    pub mod3: Vec<IdentityResidualBlock>,
    pub mod4: Vec<IdentityResidualBlock>,
    pub mod5: Vec<IdentityResidualBlock>,
    pub mod6: Vec<IdentityResidualBlock>,
    pub mod7: Vec<IdentityResidualBlock>,
}

/// Stride of the first block and dilation of every block of `mod2`..`mod7`
/// (`WiderResNetA2` with `dilation=True`).
const STRIDE_DILATION: [(usize, usize); 6] = [(1, 1), (1, 1), (2, 1), (1, 2), (1, 4), (1, 4)];

impl WiderResNetA2 {
    pub fn new(config: &ScorerConfig, device: &Device) -> Self {
        let mut c_in = config.stem_channels;
        let [mod2, mod3, mod4, mod5, mod6, mod7] = std::array::from_fn(|m| {
            let (stride, dilation) = STRIDE_DILATION[m];
            let widths = &config.widths[m];
            (0..config.blocks[m])
                .map(|b| {
                    let stride = if b == 0 { stride } else { 1 };
                    let block = IdentityResidualBlock::new(c_in, widths, stride, dilation, device);
                    c_in = *widths.last().expect("widths are never empty");
                    block
                })
                .collect::<Vec<_>>()
        });
        Self {
            mod1: Stem {
                conv1: conv(3, config.stem_channels, 3, 1, 1, device),
            },
            mod2,
            mod3,
            mod4,
            mod5,
            mod6,
            mod7,
        }
    }

    /// `(m2, x)`: the output of `mod2` (stride 2, the decoder's skip) and
    /// of `mod7` (stride 8).
    pub fn forward(&self, input: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let run = |x: Tensor<4>, blocks: &[IdentityResidualBlock]| {
            blocks.iter().fold(x, |x, block| block.forward(x))
        };
        let x = self.mod1.conv1.forward(input);
        let m2 = run(pool(x), &self.mod2);
        let mut x = run(pool(m2.clone()), &self.mod3);
        for blocks in [&self.mod4, &self.mod5, &self.mod6, &self.mod7] {
            x = run(x, blocks);
        }
        (m2, x)
    }
}

/// `nn.MaxPool2d(3, stride=2, padding=1)`.
fn pool(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(
        x,
        MaxPoolOptions::new([3, 3])
            .with_stride([2, 2])
            .with_padding([1, 1]),
    )
}
