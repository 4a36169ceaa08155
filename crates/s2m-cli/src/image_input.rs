//! Reading user images with limits, so a corrupt or enormous file is an
//! error message rather than a crash or an out-of-memory kill.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor, TensorData};
use image::{ImageReader, Limits};

/// Largest accepted side in pixels (a 16k frame; SAM resizes to 1024 anyway).
pub const MAX_SIDE: u32 = 16_384;
/// Largest accepted decoded size in bytes.
const MAX_ALLOC: u64 = 1 << 30;

/// An RGB image, row-major, 3 bytes per pixel.
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// `[H, W, 3]` floats in 0..=255 on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<3> {
        let data: Vec<f32> = self.pixels.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(data, [self.height, self.width, 3]), device)
    }
}

pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    crate::input_files::require_regular_file(path)?;
    let mut reader = ImageReader::open(path)
        .with_context(|| format!("cannot open image {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image {}", path.display()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let decoded = reader.decode().with_context(|| {
        format!(
            "{} is not a readable image (corrupt, unsupported, or larger than {MAX_SIDE}x{MAX_SIDE})",
            path.display()
        )
    })?;
    let rgb = decoded.to_rgb8();
    let (width, height) = rgb.dimensions();
    if width == 0 || height == 0 {
        bail!("{} has no pixels", path.display());
    }
    Ok(RgbImage {
        width: width as usize,
        height: height as usize,
        pixels: rgb.into_raw(),
    })
}
