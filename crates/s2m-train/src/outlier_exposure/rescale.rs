//! Resizing as the reference's `random_scale` does it with OpenCV:
//! `cv2.resize(img, (int(w * s), int(h * s)), INTER_LINEAR)` for the image
//! and `INTER_NEAREST` for the mask. OpenCV's bilinear maps output pixel
//! `d` to source `(d + 0.5) / s - 0.5`, clamped at the border, and reads
//! the 2 x 2 neighbours without anti-aliasing (unlike the `image` crate's
//! filters, which widen their support when downscaling); its nearest
//! neighbour reads source `floor(d / s)`. Both use the exact ratio
//! `source / output` per axis.

use image::{GrayImage, Luma, Rgb, RgbImage};

/// The size of `(width, height)` scaled by `scale`, truncated as Python's
/// `int()`; 0 when the object vanishes.
pub fn scaled_size((width, height): (u32, u32), scale: f32) -> (u32, u32) {
    let s = scale as f64;
    ((width as f64 * s) as u32, (height as f64 * s) as u32)
}

/// Bilinear resize to `(width, height)` (`cv2.INTER_LINEAR`), both > 0.
pub fn bilinear(image: &RgbImage, (width, height): (u32, u32)) -> RgbImage {
    let (sw, sh) = image.dimensions();
    let xs: Vec<_> = (0..width).map(|d| taps(d, sw, width)).collect();
    let ys: Vec<_> = (0..height).map(|d| taps(d, sh, height)).collect();
    RgbImage::from_fn(width, height, |x, y| {
        let ((x0, x1, fx), (y0, y1, fy)) = (xs[x as usize], ys[y as usize]);
        let p = |xx, yy| image.get_pixel(xx, yy).0.map(f32::from);
        let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
        Rgb(std::array::from_fn(|k| {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bottom = c[k] + (d[k] - c[k]) * fx;
            (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// Nearest-neighbour resize to `(width, height)` (`cv2.INTER_NEAREST`).
pub fn nearest(mask: &GrayImage, (width, height): (u32, u32)) -> GrayImage {
    let (sw, sh) = mask.dimensions();
    let pick = |d: u32, source: u32, output: u32| {
        ((d as f64 * source as f64 / output as f64) as u32).min(source - 1)
    };
    GrayImage::from_fn(width, height, |x, y| {
        Luma(mask.get_pixel(pick(x, sw, width), pick(y, sh, height)).0)
    })
}

/// The two source pixels and the weight of the second for output pixel
/// `d` of `output` taken from `source` pixels.
fn taps(d: u32, source: u32, output: u32) -> (u32, u32, f32) {
    let s = ((d as f64 + 0.5) * source as f64 / output as f64 - 0.5).max(0.0);
    let i0 = (s.floor() as u32).min(source - 1);
    let i1 = (i0 + 1).min(source - 1);
    (i0, i1, (s - i0 as f64).clamp(0.0, 1.0) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_truncate_like_python_int() {
        assert_eq!(scaled_size((640, 427), 0.125), (80, 53));
        assert_eq!(scaled_size((7, 9), 0.1), (0, 0));
    }

    #[test]
    fn halving_averages_pixel_pairs_and_nearest_takes_the_first() {
        // One row 0, 100, 200, 50: OpenCV's INTER_LINEAR at half size
        // reads source 0.5 and 2.5, the means of the pairs.
        let row = RgbImage::from_fn(4, 1, |x, _| Rgb([[0, 100, 200, 50][x as usize]; 3]));
        let half = bilinear(&row, (2, 1));
        assert_eq!(half.get_pixel(0, 0).0, [50; 3]);
        assert_eq!(half.get_pixel(1, 0).0, [125; 3]);
        let mask = GrayImage::from_fn(4, 1, |x, _| Luma([x as u8]));
        assert_eq!(nearest(&mask, (2, 1)).into_raw(), [0, 2]);
    }

    #[test]
    fn upscaling_clamps_at_the_border() {
        let row = RgbImage::from_fn(2, 1, |x, _| Rgb([[0, 200][x as usize]; 3]));
        let wide: Vec<u8> = bilinear(&row, (4, 1)).pixels().map(|p| p.0[0]).collect();
        // Source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped).
        assert_eq!(wide, [0, 50, 150, 200]);
    }
}
