//! Floating-point TIFF score maps (TIFF 6.0 SampleFormat 3, as tifffile,
//! GDAL and OpenCV write them), decoded by the `tiff` crate: one channel of
//! 32- or 64-bit floats, uncompressed, deflate or LZW; the first image of
//! the file. (`image` decodes float TIFFs only with three or four channels.)

use std::io::Cursor;

use tiff::ColorType;
use tiff::TiffError;
use tiff::decoder::{Decoder, DecodingResult, Limits};

use super::{MAX_SIDE, ScoreMap, ScoreMapError, check_size};

/// Classic TIFF and BigTIFF, little- and big-endian.
const MAGICS: [&[u8]; 4] = [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"];
const NEEDED: &str = "a TIFF score map must hold one channel of 32-bit floats";

pub fn recognises(bytes: &[u8]) -> bool {
    MAGICS.iter().any(|magic| bytes.starts_with(magic))
}

pub fn read(file: &str, bytes: &[u8]) -> Result<ScoreMap, ScoreMapError> {
    let corrupt = |e: TiffError| ScoreMapError::Corrupt {
        file: file.into(),
        format: "TIFF",
        message: e.to_string(),
    };
    let wrong_type = |found: String| ScoreMapError::WrongType {
        file: file.into(),
        found,
        needed: NEEDED,
    };
    // The largest map allowed, in float64.
    let mut limits = Limits::default();
    limits.decoding_buffer_size = (MAX_SIDE * MAX_SIDE * 8) as usize;
    let mut decoder = Decoder::new(Cursor::new(bytes))
        .map_err(corrupt)?
        .with_limits(limits);
    let (width, height) = decoder.dimensions().map_err(corrupt)?;
    let (height, width) = check_size(file, height.into(), width.into())?;
    match decoder.colortype().map_err(corrupt)? {
        ColorType::Gray(32 | 64) => {}
        ColorType::Gray(bits) => return Err(wrong_type(format!("holds {bits}-bit samples"))),
        other => return Err(wrong_type(format!("holds {other:?} pixels"))),
    }
    let values = match decoder.read_image().map_err(corrupt)? {
        DecodingResult::F32(values) => values,
        DecodingResult::F64(values) => values.into_iter().map(|v| v as f32).collect(),
        _ => return Err(wrong_type("holds integer samples".into())),
    };
    ScoreMap::finite(file, height, width, values)
}

#[cfg(test)]
mod tests {
    use tiff::encoder::{TiffEncoder, colortype};

    use super::*;

    fn tiff_file<C: colortype::ColorType>(width: u32, height: u32, data: &[C::Inner]) -> Vec<u8>
    where
        [C::Inner]: tiff::encoder::TiffValue,
    {
        let mut bytes = Cursor::new(Vec::new());
        TiffEncoder::new(&mut bytes)
            .unwrap()
            .write_image::<C>(width, height, data)
            .unwrap();
        bytes.into_inner()
    }

    const VALUES: [f32; 6] = [0.0, 0.25, 0.5, 0.75, 1.0, -3.5];

    #[test]
    fn float32_and_float64_grayscale() {
        let map = ScoreMap::from_bytes(
            &tiff_file::<colortype::Gray32Float>(3, 2, &VALUES),
            "map.tif",
        )
        .unwrap();
        assert_eq!((map.height, map.width, map.values), (2, 3, VALUES.to_vec()));
        let f64s: Vec<f64> = VALUES.iter().map(|v| *v as f64).collect();
        let map =
            ScoreMap::from_bytes(&tiff_file::<colortype::Gray64Float>(3, 2, &f64s), "map.tif")
                .unwrap();
        assert_eq!(map.values, VALUES);
    }

    #[test]
    fn integer_and_colour_tiffs_are_refused() {
        let cases = [
            (
                tiff_file::<colortype::Gray8>(3, 2, &[0; 6]),
                "holds 8-bit samples",
            ),
            (
                tiff_file::<colortype::Gray32>(3, 2, &[0; 6]),
                "holds integer samples",
            ),
            (
                tiff_file::<colortype::RGB32Float>(1, 1, &[0.0; 3]),
                "holds RGB(32) pixels",
            ),
        ];
        for (bytes, found) in cases {
            let err = ScoreMap::from_bytes(&bytes, "bad.tif").unwrap_err();
            assert_eq!(err.to_string(), format!("bad.tif: {found}; {NEEDED}"));
        }
    }

    #[test]
    fn non_finite_values_are_refused() {
        let mut values = VALUES;
        values[4] = f32::NAN;
        let bytes = tiff_file::<colortype::Gray32Float>(3, 2, &values);
        let err = ScoreMap::from_bytes(&bytes, "nan.tif").unwrap_err();
        assert!(
            matches!(
                err,
                ScoreMapError::NotFinite {
                    count: 1,
                    row: 1,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn truncated_tiff_is_corrupt() {
        let bytes = tiff_file::<colortype::Gray32Float>(3, 2, &VALUES);
        let err = ScoreMap::from_bytes(&bytes[..bytes.len() - 40], "cut.tif").unwrap_err();
        assert!(matches!(err, ScoreMapError::Corrupt { .. }), "{err}");
        assert!(
            err.to_string().starts_with("cut.tif: not a readable TIFF"),
            "{err}"
        );
    }
}
