//! Every width of the DeepWV3Plus scorer in one place, with the published
//! architecture as defaults (RPL's `rpl.code/model/wide_network.py` and
//! PEBAL's `code/model/wide_network.py`: `WiderResNetA2(structure=[3, 3, 6,
//! 3, 1, 1], dilation=True)`, ASPP 256 channels at output stride 8, decoder
//! 48 + 256 channels).

/// Configuration of the DeepWV3Plus network.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorerConfig {
    /// Output channels of `mod1` (one 3x3 convolution on the RGB input).
    pub stem_channels: usize,
    /// Residual blocks in `mod2`..`mod7`.
    pub blocks: [usize; 6],
    /// Internal widths of the blocks of `mod2`..`mod7`: two entries for a
    /// block of two 3x3 convolutions, three for a 1x1-3x3-1x1 bottleneck;
    /// the last entry is the block's output width.
    pub widths: [Vec<usize>; 6],
    /// Channels of each of the five ASPP branches.
    pub aspp_channels: usize,
    /// Dilations of the three 3x3 ASPP branches (the reference doubles
    /// (6, 12, 18) for output stride 8).
    pub aspp_rates: [usize; 3],
    /// Output channels of `bot_fine` (the stride-2 skip from `mod2`).
    pub fine_channels: usize,
    /// Output channels of `bot_aspp`.
    pub decoder_channels: usize,
    /// Width of the two 3x3 convolutions of the classifier head (`final`).
    pub head_channels: usize,
    /// Outputs of the classifier (19 Cityscapes classes; PEBAL adds one).
    pub num_classes: usize,
    /// RPL's residual anomaly block (`residual_block`), with the width of
    /// its `bot_atten_aspp`; `None` for PEBAL and the plain DeepWV3Plus.
    pub residual_channels: Option<usize>,
}

impl Default for ScorerConfig {
    fn default() -> Self {
        Self::rpl()
    }
}

impl ScorerConfig {
    /// RPL (+CoroCL), the scorer of the paper: 19 classes and the residual
    /// anomaly block, whose output the score is computed from.
    pub fn rpl() -> Self {
        Self {
            stem_channels: 64,
            blocks: [3, 3, 6, 3, 1, 1],
            widths: [
                vec![128, 128],
                vec![256, 256],
                vec![512, 512],
                vec![512, 1024],
                vec![512, 1024, 2048],
                vec![1024, 2048, 4096],
            ],
            aspp_channels: 256,
            aspp_rates: [12, 24, 36],
            fine_channels: 48,
            decoder_channels: 256,
            head_channels: 256,
            num_classes: 19,
            residual_channels: Some(256),
        }
    }

    /// PEBAL: the plain DeepWV3Plus with 20 outputs (19 classes and the
    /// abstention channel).
    pub fn pebal() -> Self {
        Self {
            num_classes: 20,
            residual_channels: None,
            ..Self::rpl()
        }
    }

    /// Output channels of `mod2` (the input of `bot_fine`).
    pub fn skip_channels(&self) -> usize {
        *self.widths[0].last().expect("widths are never empty")
    }

    /// Output channels of `mod7` (the input of the ASPP).
    pub fn trunk_channels(&self) -> usize {
        *self.widths[5].last().expect("widths are never empty")
    }

    /// The configuration of the network whose converted weights hold these
    /// tensors (our names, PyTorch shapes). Shapes cannot tell the ASPP
    /// dilations: they keep the published values. `None` when a tensor it
    /// needs is missing.
    pub fn from_tensor_shapes<'a>(
        tensors: impl IntoIterator<Item = (&'a str, &'a [usize])>,
    ) -> Option<Self> {
        let shapes: std::collections::HashMap<&str, &[usize]> = tensors.into_iter().collect();
        let dim = |name: &str, axis: usize| shapes.get(name).and_then(|s| s.get(axis)).copied();
        let mut blocks = [0; 6];
        let mut widths: [Vec<usize>; 6] = Default::default();
        for (m, (count, width)) in blocks.iter_mut().zip(&mut widths).enumerate() {
            let module = m + 2;
            *count = (0..)
                .take_while(|b| {
                    shapes.contains_key(format!("trunk.mod{module}.{b}.bn1.weight").as_str())
                })
                .count();
            *width = ["conv1", "conv2", "conv3"]
                .iter()
                .map_while(|conv| dim(&format!("trunk.mod{module}.0.{conv}.weight"), 0))
                .collect();
            if *count == 0 || width.len() < 2 {
                return None;
            }
        }
        Some(Self {
            stem_channels: dim("trunk.mod1.conv1.weight", 0)?,
            blocks,
            widths,
            aspp_channels: dim("aspp.features.0.conv.weight", 0)?,
            fine_channels: dim("bot_fine.weight", 0)?,
            decoder_channels: dim("bot_aspp.weight", 0)?,
            head_channels: dim("head.conv1.weight", 0)?,
            num_classes: dim("head.conv3.weight", 0)?,
            residual_channels: dim("residual_block.bot_atten_aspp.weight", 0),
            ..Self::rpl()
        })
    }
}
