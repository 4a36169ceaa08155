//! Tiny datasets the tests write to temporary folders.

use std::path::Path;

use image::{GrayImage, Luma, Rgb, RgbImage};

use super::{ObjectSource, OeError, OeObject};

/// Writes a `height` x `width` PNG of one colour, creating its folders.
pub fn write_png(path: &Path, height: u32, width: u32, rgb: [u8; 3]) {
    write_rgb(path, &RgbImage::from_pixel(width, height, Rgb(rgb)));
}

/// Writes an RGB image (PNG or JPEG by extension), creating its folders.
pub fn write_rgb(path: &Path, image: &RgbImage) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image.save(path).unwrap();
}

/// Writes a grayscale PNG, creating its folders.
pub fn write_gray(path: &Path, image: &GrayImage) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image.save(path).unwrap();
}

/// An image whose pixel `(x, y)` is `(x, y, base)`: every pixel tells
/// where it came from.
pub fn coordinate_image(height: u32, width: u32, base: u8) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, base]))
}

/// A mask with the rectangle `[x0, x1) x [y0, y1)` set to 255.
pub fn rect_mask(height: u32, width: u32, [x0, y0, x1, y1]: [u32; 4]) -> GrayImage {
    GrayImage::from_fn(width, height, |x, y| {
        Luma([if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
            255
        } else {
            0
        }])
    })
}

/// Objects made in memory: object `k` is a `k + 2` px red square.
pub struct Squares(pub usize);

impl ObjectSource for Squares {
    fn len(&self) -> usize {
        self.0
    }
    fn object(&self, index: usize) -> Result<OeObject, OeError> {
        let side = index as u32 + 2;
        OeObject::cut(
            "square",
            &image::RgbImage::from_pixel(side, side, image::Rgb([255, 0, 0])),
            &rect_mask(side, side, [0, 0, side, side]),
        )
    }
    fn describe(&self, index: usize) -> String {
        format!("square {index}")
    }
}
