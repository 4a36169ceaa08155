//! 16-bit grayscale PNG score maps, decoded by `image`: each sample / 65535,
//! so the map lies in [0, 1]. Eight bits are too coarse for a score map and
//! are refused rather than silently widened.

use std::io::Cursor;

use image::codecs::png::PngDecoder;
use image::{ColorType, ImageDecoder, ImageError, Limits};

use super::{ScoreMap, ScoreMapError, check_size};

const MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const NEEDED: &str =
    "a score map needs a 16-bit grayscale PNG or a float format (.npy, .npz, float32 TIFF, PFM)";

pub fn recognises(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

pub fn read(file: &str, bytes: &[u8]) -> Result<ScoreMap, ScoreMapError> {
    let corrupt = |e: ImageError| ScoreMapError::Corrupt {
        file: file.into(),
        format: "PNG",
        message: e.to_string(),
    };
    // Reads the header only; the default limits bound what that allocates.
    let decoder =
        PngDecoder::with_limits(Cursor::new(bytes), Limits::default()).map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    let (height, width) = check_size(file, height.into(), width.into())?;
    let found = match decoder.color_type() {
        ColorType::L16 => None,
        ColorType::L8 => Some("is an 8-bit grayscale PNG".to_owned()),
        other => Some(format!(
            "is a {}-channel {}-bit PNG",
            other.channel_count(),
            other.bits_per_pixel() / other.channel_count() as u16
        )),
    };
    if let Some(found) = found {
        return Err(ScoreMapError::WrongType {
            file: file.into(),
            found,
            needed: NEEDED,
        });
    }
    let mut samples = vec![0u8; height * width * 2];
    decoder.read_image(&mut samples).map_err(corrupt)?;
    let values = samples
        .chunks_exact(2)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]) as f32 / u16::MAX as f32)
        .collect();
    Ok(ScoreMap {
        height,
        width,
        values,
    })
}

#[cfg(test)]
mod tests {
    use image::{ImageBuffer, ImageFormat, Luma, Rgb};

    use super::*;

    fn png<P: image::PixelWithColorType>(image: ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
    where
        [P::Subpixel]: image::EncodableLayout,
    {
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, ImageFormat::Png).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn sixteen_bit_samples_are_scaled_to_unit_range() {
        let image = ImageBuffer::<Luma<u16>, _>::from_raw(3, 2, vec![0, 1, 32768, 65535, 13107, 0])
            .unwrap();
        let map = ScoreMap::from_bytes(&png(image), "map.png").unwrap();
        assert_eq!((map.height, map.width), (2, 3));
        let expected = [0.0, 1.0 / 65535.0, 32768.0 / 65535.0, 1.0, 0.2, 0.0];
        for (v, e) in map.values.iter().zip(expected) {
            assert!((v - e).abs() < 1e-7, "{v} vs {e}");
        }
    }

    #[test]
    fn eight_bit_png_asks_for_sixteen_bits_or_a_float_format() {
        let image = ImageBuffer::<Luma<u8>, _>::from_raw(3, 2, vec![0; 6]).unwrap();
        let err = ScoreMap::from_bytes(&png(image), "map8.png").unwrap_err();
        assert_eq!(
            err.to_string(),
            "map8.png: is an 8-bit grayscale PNG; a score map needs a 16-bit grayscale PNG \
             or a float format (.npy, .npz, float32 TIFF, PFM)"
        );
    }

    #[test]
    fn colour_png_is_refused() {
        let image = ImageBuffer::<Rgb<u16>, _>::from_raw(1, 1, vec![0; 3]).unwrap();
        let err = ScoreMap::from_bytes(&png(image), "rgb.png").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("rgb.png: is a 3-channel 16-bit PNG; "),
            "{err}"
        );
    }

    #[test]
    fn truncated_png_is_corrupt() {
        let image = ImageBuffer::<Luma<u16>, _>::from_raw(64, 64, vec![7; 64 * 64]).unwrap();
        let bytes = png(image);
        let err = ScoreMap::from_bytes(&bytes[..bytes.len() / 2], "cut.png").unwrap_err();
        assert!(matches!(err, ScoreMapError::Corrupt { .. }), "{err}");
        assert!(
            err.to_string().starts_with("cut.png: not a readable PNG"),
            "{err}"
        );
    }
}
