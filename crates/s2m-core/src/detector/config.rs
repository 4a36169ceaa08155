//! Every hyper-parameter of the prompt generator in one place, with the
//! values of the paper's detectron2 configuration as defaults
//! (REFERENCE.md, "Prompt generator").

/// Safetensors metadata keys of the settings a weights file may carry.
pub const METADATA_PIXEL_MEAN: &str = "s2m.detector.pixel_mean";
pub const METADATA_PIXEL_STD: &str = "s2m.detector.pixel_std";
pub const METADATA_ANCHOR_SIZES: &str = "s2m.detector.anchor_sizes";
pub const METADATA_SCORE_THRESHOLD: &str = "s2m.detector.score_threshold";

/// The largest anchor side a weights file may ask for (the paper's largest
/// is 512).
const MAX_ANCHOR_SIZE: f32 = 8192.0;

/// A generator setting in a weights file's metadata that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("metadata `{key}` is `{value}`; expected {expected}")]
pub struct MetadataError {
    pub key: &'static str,
    pub value: String,
    pub expected: String,
}

/// Configuration of the prompt generator.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    pub backbone: BackboneConfig,
    /// Replicate the score map to three input channels (the paper); when
    /// false the stem takes one channel and only the first mean/std apply.
    pub replicate_score_map: bool,
    /// Added to the single-channel score map replicated to three channels:
    /// detectron2 subtracts its BGR pixel mean from the unnormalised input.
    pub pixel_mean: [f32; 3],
    pub pixel_std: [f32; 3],
    /// Anchor side per FPN level P2..P6 (one size per level).
    pub anchor_sizes: [f32; 5],
    pub anchor_aspect_ratios: [f32; 3],
    /// Strides of P2..P6.
    pub strides: [usize; 5],
    /// Anchor centre offset within a cell, in strides (detectron2: 0.0).
    pub anchor_offset: f32,
    pub rpn_nms_threshold: f32,
    pub rpn_pre_nms_top_k: usize,
    pub rpn_post_nms_top_k: usize,
    /// Box regression weights (wx, wy, ww, wh) of the RPN.
    pub rpn_box_weights: [f32; 4],
    /// Box regression weights of the ROI box head.
    pub roi_box_weights: [f32; 4],
    pub roi_pooler_resolution: usize,
    /// 0 = adaptive (ceil(roi size / output size) samples per bin).
    pub roi_sampling_ratio: usize,
    pub roi_aligned: bool,
    pub box_head_fc_dim: usize,
    pub num_classes: usize,
    /// Detections scoring at most this are dropped (detectron2's
    /// `SCORE_THRESH_TEST`, 0.05); a generator we trained carries the
    /// threshold calibrated on object-free maps in its metadata.
    pub test_score_threshold: f32,
    pub test_nms_threshold: f32,
    pub test_detections_per_image: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            backbone: BackboneConfig::resnet50(),
            replicate_score_map: true,
            pixel_mean: [103.53, 116.28, 123.675],
            pixel_std: [1.0, 1.0, 1.0],
            anchor_sizes: [32.0, 64.0, 128.0, 256.0, 512.0],
            anchor_aspect_ratios: [0.5, 1.0, 2.0],
            strides: [4, 8, 16, 32, 64],
            anchor_offset: 0.0,
            rpn_nms_threshold: 0.7,
            rpn_pre_nms_top_k: 1000,
            rpn_post_nms_top_k: 1000,
            rpn_box_weights: [1.0, 1.0, 1.0, 1.0],
            roi_box_weights: [10.0, 10.0, 5.0, 5.0],
            roi_pooler_resolution: 7,
            roi_sampling_ratio: 0,
            roi_aligned: true,
            box_head_fc_dim: 1024,
            num_classes: 2,
            test_score_threshold: 0.05,
            test_nms_threshold: 0.5,
            test_detections_per_image: 100,
        }
    }
}

impl DetectorConfig {
    /// The paper's generator: ResNet-50 + FPN (`faster_rcnn_R_50_FPN_3x`).
    pub fn r50_fpn() -> Self {
        Self::default()
    }

    /// Channels of the network input.
    pub fn input_channels(&self) -> usize {
        if self.replicate_score_map { 3 } else { 1 }
    }

    /// Cell anchors per location (one size per level times the ratios).
    pub fn anchors_per_cell(&self) -> usize {
        self.anchor_aspect_ratios.len()
    }

    /// The configuration of the detector whose converted weights hold
    /// these tensors (our names, PyTorch shapes): depth, widths, input
    /// channels, box head and classes follow from the shapes, everything
    /// else keeps the paper's values. `None` when a tensor it needs is
    /// missing, the depth is not one detectron2 builds, or the sizes
    /// cannot work (a zero width, a box head whose input is not
    /// channels x r x r pooled features for a whole r >= 1).
    pub fn from_tensor_shapes<'a>(
        tensors: impl IntoIterator<Item = (&'a str, &'a [usize])>,
    ) -> Option<Self> {
        let shapes: std::collections::HashMap<&str, &[usize]> = tensors.into_iter().collect();
        let dim = |name: &str, axis: usize| shapes.get(name).and_then(|s| s.get(axis)).copied();
        let bottleneck = shapes.contains_key("backbone.bottom_up.res2.0.conv3.weight");
        let res4_blocks = (0..)
            .take_while(|i| {
                shapes.contains_key(format!("backbone.bottom_up.res4.{i}.conv1.weight").as_str())
            })
            .count();
        let depth = match (res4_blocks, bottleneck) {
            (2, false) => ResNetDepth::R18,
            (6, false) => ResNetDepth::R34,
            (6, true) => ResNetDepth::R50,
            (23, true) => ResNetDepth::R101,
            _ => return None,
        };
        let res2_out = if bottleneck {
            dim("backbone.bottom_up.res2.0.conv3.weight", 0)?
        } else {
            dim("backbone.bottom_up.res2.0.conv2.weight", 0)?
        };
        let backbone = BackboneConfig {
            depth,
            stem_out_channels: dim("backbone.bottom_up.stem.conv1.weight", 0)?,
            res2_out_channels: res2_out,
            width_per_group: if bottleneck {
                dim("backbone.bottom_up.res2.0.conv1.weight", 0)?
            } else {
                BackboneConfig::resnet18().width_per_group
            },
            fpn_out_channels: dim("backbone.fpn_lateral.0.weight", 0)?,
        };
        // fc1 reads C x r x r pooled features: r must be a whole number of
        // at least 1 (a zero-sized head would leave nothing to pool).
        let pooled_inputs = dim("roi_heads.box_head.fc1.weight", 1)?;
        let channels = backbone.fpn_out_channels;
        let resolution = pooled_inputs.checked_div(channels)?.isqrt();
        if resolution == 0 || channels * resolution * resolution != pooled_inputs {
            return None;
        }
        let box_head_fc_dim = dim("roi_heads.box_head.fc1.weight", 0)?;
        if [
            backbone.stem_out_channels,
            backbone.res2_out_channels,
            box_head_fc_dim,
        ]
        .contains(&0)
        {
            return None;
        }
        let defaults = Self::default();
        Some(Self {
            replicate_score_map: dim("backbone.bottom_up.stem.conv1.weight", 1)? == 3,
            box_head_fc_dim,
            num_classes: dim("roi_heads.box_predictor.cls_score.weight", 0)?.checked_sub(1)?,
            roi_pooler_resolution: resolution,
            backbone,
            ..defaults
        })
    }

    /// The settings that tensor shapes cannot tell, as safetensors metadata
    /// entries: a trained generator's weights file carries them (see
    /// [`DetectorConfig::with_metadata`]).
    pub fn metadata(&self) -> Vec<(String, String)> {
        let list = |values: &[f32]| {
            values
                .iter()
                .map(f32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        vec![
            (METADATA_PIXEL_MEAN.into(), list(&self.pixel_mean)),
            (METADATA_PIXEL_STD.into(), list(&self.pixel_std)),
            (METADATA_ANCHOR_SIZES.into(), list(&self.anchor_sizes)),
            (
                METADATA_SCORE_THRESHOLD.into(),
                self.test_score_threshold.to_string(),
            ),
        ]
    }

    /// This configuration with the settings found in a weights file's
    /// metadata (absent entries leave it as is: detectron2 checkpoints
    /// carry none and use the paper's values). An entry that does not
    /// parse, or whose values cannot work (a standard deviation of 0, an
    /// anchor of size 0 or NaN, a threshold outside [0, 1)), is an error
    /// naming the key.
    pub fn with_metadata<'a>(
        mut self,
        metadata: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Self, MetadataError> {
        fn parse<const N: usize>(
            key: &'static str,
            text: Option<&str>,
            valid: impl Fn(f32) -> bool,
            expected: &'static str,
        ) -> Result<Option<[f32; N]>, MetadataError> {
            let Some(text) = text else {
                return Ok(None);
            };
            let error = || MetadataError {
                key,
                value: text.to_string(),
                expected: format!("{N} comma-separated numbers, each {expected}"),
            };
            let values: Vec<f32> = text
                .split(',')
                .map(|v| v.trim().parse().ok().filter(|&v: &f32| valid(v)))
                .collect::<Option<_>>()
                .ok_or_else(error)?;
            values.try_into().map(Some).map_err(|_| error())
        }
        if let Some(mean) = parse(
            METADATA_PIXEL_MEAN,
            metadata(METADATA_PIXEL_MEAN),
            f32::is_finite,
            "finite",
        )? {
            self.pixel_mean = mean;
        }
        if let Some(std) = parse(
            METADATA_PIXEL_STD,
            metadata(METADATA_PIXEL_STD),
            |v| v.is_finite() && v > 0.0,
            "above 0",
        )? {
            self.pixel_std = std;
        }
        if let Some(sizes) = parse(
            METADATA_ANCHOR_SIZES,
            metadata(METADATA_ANCHOR_SIZES),
            |v| v > 0.0 && v <= MAX_ANCHOR_SIZE,
            "above 0 and at most 8192 pixels",
        )? {
            self.anchor_sizes = sizes;
        }
        if let Some([threshold]) = parse(
            METADATA_SCORE_THRESHOLD,
            metadata(METADATA_SCORE_THRESHOLD),
            |v| (0.0..=1.0).contains(&v),
            "in [0, 1]",
        )? {
            self.test_score_threshold = threshold;
        }
        Ok(self)
    }

    /// The same detector on a ResNet-18: our small default generator.
    pub fn r18_fpn() -> Self {
        Self {
            backbone: BackboneConfig::resnet18(),
            ..Self::default()
        }
    }
}

/// The ResNet + FPN backbone (detectron2 `MODEL.RESNETS` and `MODEL.FPN`).
#[derive(Debug, Clone, PartialEq)]
pub struct BackboneConfig {
    pub depth: ResNetDepth,
    /// Output channels of the stem.
    pub stem_out_channels: usize,
    /// Output channels of res2, doubled at each later stage.
    pub res2_out_channels: usize,
    /// Bottleneck width at res2 (one group), doubled at each later stage.
    pub width_per_group: usize,
    /// Channels of every FPN output P2..P6.
    pub fpn_out_channels: usize,
}

impl BackboneConfig {
    pub fn resnet50() -> Self {
        Self {
            depth: ResNetDepth::R50,
            stem_out_channels: 64,
            res2_out_channels: 256,
            width_per_group: 64,
            fpn_out_channels: 256,
        }
    }

    /// detectron2 requires `RES2_OUT_CHANNELS = 64` for depths 18 and 34.
    pub fn resnet18() -> Self {
        Self {
            depth: ResNetDepth::R18,
            res2_out_channels: 64,
            ..Self::resnet50()
        }
    }

    /// Output channels of res2..res5.
    pub fn stage_out_channels(&self) -> [usize; 4] {
        [0, 1, 2, 3].map(|i| self.res2_out_channels << i)
    }
}

/// The ResNet depths detectron2 builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResNetDepth {
    R18,
    R34,
    R50,
    R101,
}

impl ResNetDepth {
    /// Blocks per stage res2..res5.
    pub fn blocks_per_stage(self) -> [usize; 4] {
        match self {
            Self::R18 => [2, 2, 2, 2],
            Self::R34 | Self::R50 => [3, 4, 6, 3],
            Self::R101 => [3, 4, 23, 3],
        }
    }

    /// 50 and 101 use bottleneck blocks, 18 and 34 basic blocks.
    pub fn uses_bottleneck(self) -> bool {
        matches!(self, Self::R50 | Self::R101)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_the_settings_shapes_cannot_tell() {
        let trained = DetectorConfig {
            pixel_mean: [-8.0, -8.0, -8.0],
            pixel_std: [5.0, 5.0, 5.0],
            anchor_sizes: [16.0, 32.0, 64.0, 128.0, 256.0],
            test_score_threshold: 0.625,
            ..DetectorConfig::r18_fpn()
        };
        let metadata = trained.metadata();
        let lookup = |key: &str| {
            metadata
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(DetectorConfig::r18_fpn().with_metadata(lookup), Ok(trained));
        assert_eq!(
            DetectorConfig::r18_fpn().with_metadata(|_| None),
            Ok(DetectorConfig::r18_fpn())
        );
    }

    #[test]
    fn sizes_that_cannot_work_are_not_a_configuration() {
        let shapes: Vec<(String, Vec<usize>)> = [
            ("backbone.bottom_up.stem.conv1.weight", vec![4, 3, 7, 7]),
            ("backbone.bottom_up.res2.0.conv1.weight", vec![4, 4, 3, 3]),
            ("backbone.bottom_up.res2.0.conv2.weight", vec![4, 4, 3, 3]),
            ("backbone.bottom_up.res4.0.conv1.weight", vec![16, 8, 3, 3]),
            ("backbone.bottom_up.res4.1.conv1.weight", vec![16, 16, 3, 3]),
            ("backbone.fpn_lateral.0.weight", vec![8, 4, 1, 1]),
            ("roi_heads.box_head.fc1.weight", vec![32, 8 * 7 * 7]),
            ("roi_heads.box_predictor.cls_score.weight", vec![3, 32]),
        ]
        .iter()
        .map(|(n, s)| (n.to_string(), s.clone()))
        .collect();
        let config = |replace: Option<(&str, Vec<usize>)>| {
            let mut shapes = shapes.clone();
            if let Some((name, shape)) = replace {
                shapes.iter_mut().find(|(n, _)| n == name).unwrap().1 = shape;
            }
            DetectorConfig::from_tensor_shapes(
                shapes.iter().map(|(n, s)| (n.as_str(), s.as_slice())),
            )
        };
        assert_eq!(config(None).unwrap().roi_pooler_resolution, 7);
        for bad in [
            ("roi_heads.box_head.fc1.weight", vec![32, 0]),
            ("roi_heads.box_head.fc1.weight", vec![32, 8 * 7 * 7 + 1]),
            ("roi_heads.box_head.fc1.weight", vec![0, 8 * 7 * 7]),
            ("backbone.fpn_lateral.0.weight", vec![0, 4, 1, 1]),
            ("backbone.bottom_up.stem.conv1.weight", vec![0, 3, 7, 7]),
        ] {
            assert_eq!(config(Some((bad.0, bad.1.clone()))), None, "{bad:?}");
        }
    }

    #[test]
    fn unusable_metadata_is_an_error_naming_the_key() {
        for (key, value) in [
            (METADATA_PIXEL_STD, "1,2"),
            (METADATA_PIXEL_STD, "5,0,5"),
            (METADATA_PIXEL_MEAN, "-8,NaN,-8"),
            (METADATA_PIXEL_MEAN, "zero"),
            (METADATA_ANCHOR_SIZES, "0,32,64,128,256"),
            (METADATA_ANCHOR_SIZES, "16,32,64,128,1e9"),
            (METADATA_ANCHOR_SIZES, "16,32,NaN,128,256"),
            (METADATA_SCORE_THRESHOLD, "NaN"),
            (METADATA_SCORE_THRESHOLD, "1.5"),
        ] {
            let error = DetectorConfig::r18_fpn()
                .with_metadata(|k| (k == key).then_some(value))
                .unwrap_err();
            assert_eq!(error.key, key);
            assert!(error.to_string().contains(value), "{error}");
        }
    }
}
