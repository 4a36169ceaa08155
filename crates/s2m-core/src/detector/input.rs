//! The detector's input adapter (REFERENCE.md, "Prompt generator"): the
//! one-channel score map, unnormalised, replicated to the stem's channels;
//! detectron2's pixel mean subtracted and std divided per channel
//! (`GeneralizedRCNN.preprocess_image`); then zero-padded at the bottom and
//! right to a multiple of 32 (`ImageList.from_tensors`). Boxes come out in
//! score-map pixels: there is no resize at test time.

use burn::tensor::Tensor;
use burn::tensor::ops::PadMode;

use super::config::DetectorConfig;
use super::fpn::SIZE_DIVISIBILITY;

/// The network input `[1, C, H', W']` for a score map `[H, W]`, with
/// `H'` and `W'` rounded up to a multiple of 32.
pub fn score_map_to_input(score_map: Tensor<2>, config: &DetectorConfig) -> Tensor<4> {
    let [h, w] = score_map.dims();
    let device = score_map.device();
    let channels = config.input_channels();
    let mean = Tensor::<1>::from_floats(&config.pixel_mean[..channels], &device);
    let std = Tensor::<1>::from_floats(&config.pixel_std[..channels], &device);
    let x = score_map.reshape([1, 1, h, w]).expand([1, channels, h, w]);
    let x = (x - mean.reshape([1, channels, 1, 1])) / std.reshape([1, channels, 1, 1]);
    let padded = |n: usize| n.div_ceil(SIZE_DIVISIBILITY) * SIZE_DIVISIBILITY;
    x.pad(
        [(0, padded(h) - h), (0, padded(w) - w)],
        PadMode::Constant(0.0),
    )
}
