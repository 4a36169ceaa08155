//! SAM's pre- and post-processing.
//!
//! Follows `segment_anything/utils/transforms.py` (`ResizeLongestSide`) and
//! `Sam.preprocess` / `Sam.postprocess_masks`: the longest side is resized
//! to 1024 (`new = int(old * 1024 / longest + 0.5)`), pixels are normalised
//! with mean [123.675, 116.28, 103.53] and std [58.395, 57.12, 57.375] on the
//! 0..255 scale, and the image is zero-padded at the bottom and right to
//! 1024x1024. Mask logits are upsampled bilinearly to the padded frame,
//! cropped to the resized image and resized to the original size.
//!
//! Deviation: the reference resizes the image with PIL (bilinear with
//! antialiasing when shrinking); we resize on the device with plain
//! bilinear interpolation (half-pixel centres), so that pre-processing runs
//! on the GPU in the browser. For the usual dashcam frames (shrink factor
//! 0.5 to 1) the difference is a slight aliasing of fine texture. An image
//! whose longest side is already 1024 is not resampled at all. A resized
//! side is at least one pixel (for frames as thin as 3000x1).

use burn::tensor::Tensor;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, PadMode};

pub const PIXEL_MEAN: [f32; 3] = [123.675, 116.28, 103.53];
pub const PIXEL_STD: [f32; 3] = [58.395, 57.12, 57.375];

/// The sizes involved in mapping between an original image and the model
/// input: `(height, width)` of the original and of the resized image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFrame {
    pub original: (usize, usize),
    pub resized: (usize, usize),
    pub input_size: usize,
}

impl ImageFrame {
    pub fn new(original: (usize, usize), input_size: usize) -> Self {
        let (h, w) = original;
        let scale = input_size as f64 / h.max(w) as f64;
        // At least one pixel: a side that rounds to 0 (a 3000x1 frame) would
        // leave nothing to resize to (the reference fails there).
        let side = |s: usize| ((s as f64 * scale + 0.5) as usize).max(1);
        let resized = (side(h), side(w));
        Self {
            original,
            resized,
            input_size,
        }
    }

    /// XYXY boxes in original pixels to the input frame (`apply_boxes`).
    pub fn boxes_to_input(&self, boxes: &[[f32; 4]]) -> Vec<[f32; 4]> {
        boxes
            .iter()
            .map(|b| {
                let [x0, y0] = self.point_to_input([b[0], b[1]]);
                let [x1, y1] = self.point_to_input([b[2], b[3]]);
                [x0, y0, x1, y1]
            })
            .collect()
    }

    /// An (x, y) point in original pixels to the input frame (`apply_coords`).
    pub fn point_to_input(&self, p: [f32; 2]) -> [f32; 2] {
        let sx = self.resized.1 as f32 / self.original.1 as f32;
        let sy = self.resized.0 as f32 / self.original.0 as f32;
        [p[0] * sx, p[1] * sy]
    }
}

/// `x` `[N, C, h, w]` resized bilinearly to `size` (half-pixel centres,
/// `align_corners=False`, no antialiasing: PyTorch's `F.interpolate`).
pub fn bilinear(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    let options = InterpolateOptions {
        mode: InterpolateMode::Bilinear,
        align_corners: false,
        output_size: Some(size),
        scale_factor: None,
    };
    interpolate(x, options)
}

/// `[H, W, 3]` RGB in 0..=255 to the normalised, padded input `[1, 3, S, S]`.
pub fn preprocess(image: Tensor<3>, input_size: usize) -> (Tensor<4>, ImageFrame) {
    let [h, w, _] = image.dims();
    let frame = ImageFrame::new((h, w), input_size);
    let device = image.device();
    let chw = image.permute([2, 0, 1]).unsqueeze::<4>();
    let resized = bilinear(chw, [frame.resized.0, frame.resized.1]);
    let mean = Tensor::<1>::from_floats(PIXEL_MEAN, &device).reshape([1, 3, 1, 1]);
    let std = Tensor::<1>::from_floats(PIXEL_STD, &device).reshape([1, 3, 1, 1]);
    let normalised = (resized - mean) / std;
    let padded = normalised.pad(
        [
            (0, 0),
            (0, 0),
            (0, input_size - frame.resized.0),
            (0, input_size - frame.resized.1),
        ],
        PadMode::Constant(0.0),
    );
    (padded, frame)
}

/// Low-resolution logits `[N, M, h, w]` to logits at the original size.
pub fn postprocess_masks(low_res_logits: Tensor<4>, frame: &ImageFrame) -> Tensor<4> {
    let [n, m, _, _] = low_res_logits.dims();
    let s = frame.input_size;
    let full = bilinear(low_res_logits, [s, s]);
    let cropped = full.slice([0..n, 0..m, 0..frame.resized.0, 0..frame.resized.1]);
    bilinear(cropped, [frame.original.0, frame.original.1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_side_becomes_the_input_size() {
        let frame = ImageFrame::new((720, 1280), 1024);
        assert_eq!(frame.resized, (576, 1024));
        let frame = ImageFrame::new((1000, 333), 1024);
        assert_eq!(frame.resized, (1024, 341));
    }

    #[test]
    fn a_thin_frame_keeps_a_pixel_across() {
        assert_eq!(ImageFrame::new((1, 3000), 1024).resized, (1, 1024));
        assert_eq!(ImageFrame::new((3000, 1), 1024).resized, (1024, 1));
        assert_eq!(ImageFrame::new((2, 4100), 1024).resized, (1, 1024));
    }

    #[test]
    fn boxes_scale_with_the_resize() {
        let frame = ImageFrame::new((720, 1280), 1024);
        let b = frame.boxes_to_input(&[[100.0, 50.0, 1280.0, 720.0]]);
        assert_eq!(b[0], [80.0, 40.0, 1024.0, 576.0]);
    }
}
