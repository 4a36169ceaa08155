//! Anomaly score maps read from the bytes of a file: the map a scorer
//! wrote, or one a user brings (issue #5), for the prompt generator. No
//! file I/O happens here, so the web app reads a dropped file the same way.
//!
//! The format is recognised by the file's first bytes; the file name only
//! labels messages. One module per format:
//! - `npy`: NumPy `.npy`, float32 or float64, 2-D (or 3-D with a unit
//!   first or last axis), C or Fortran order;
//! - `npz`: NumPy `.npz` (`np.savez`, `np.savez_compressed`), its first
//!   2-D float array;
//! - `png16`: 16-bit grayscale PNG, each sample / 65535;
//! - `float_tiff`: single-channel 32- or 64-bit float TIFF;
//! - `pfm`: grayscale Portable Float Map (`Pf`).
//!
//! Every map is checked before its values are allocated (not empty, at
//! most [`MAX_SIDE`] per side) and after (every value finite and within
//! ±[`MAX_SCORE_MAGNITUDE`]); each error
//! names the file and what is wrong with it. `naming` says which file
//! names are score maps and which image each belongs to.

mod float_tiff;
pub mod naming;
mod npy;
mod npz;
mod pfm;
mod png16;

use burn::tensor::{Device, Tensor, TensorData};

/// Largest accepted side in pixels (as for images: a 16k frame).
pub const MAX_SIDE: u64 = 16_384;

/// A 2-D score map, row-major: `values[row * width + column]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreMap {
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

/// A file that is not a usable score map, or a map of the wrong size.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScoreMapError {
    #[error(
        "{file}: not a score map format: expected .npy, .npz, a 16-bit grayscale PNG, \
         a float32 TIFF or a grayscale PFM (recognised by content, not by name)"
    )]
    UnknownFormat { file: String },
    #[error("{file}: not a readable {format} (truncated or corrupt?): {message}")]
    Corrupt {
        file: String,
        format: &'static str,
        message: String,
    },
    #[error("{file}: {found}; {needed}")]
    WrongType {
        file: String,
        found: String,
        needed: &'static str,
    },
    #[error("{file}: shape {shape} is not a 2-D map (height, width)")]
    WrongShape { file: String, shape: String },
    #[error("{file}: truncated: its {part} needs {expected} bytes, the file has {found}")]
    Truncated {
        file: String,
        part: &'static str,
        expected: u64,
        found: u64,
    },
    #[error("{file}: the map is empty ({width}x{height}, width x height)")]
    Empty {
        file: String,
        height: u64,
        width: u64,
    },
    #[error(
        "{file}: the map is {width}x{height} (width x height), larger than {MAX_SIDE} per side"
    )]
    TooLarge {
        file: String,
        height: u64,
        width: u64,
    },
    #[error(
        "{file}: {count} value(s) NaN or infinite, the first ({value}) at row {row}, column {column}"
    )]
    NotFinite {
        file: String,
        count: usize,
        value: f32,
        row: usize,
        column: usize,
    },
    #[error(
        "{file}: {count} value(s) beyond ±{max:e}, the first ({value:e}) at row {row}, column {column}: \
         scores that large overflow the prompt generator's arithmetic (rescale the map)",
        max = MAX_SCORE_MAGNITUDE
    )]
    OutOfRange {
        file: String,
        count: usize,
        value: f32,
        row: usize,
        column: usize,
    },
    #[error("{file}: no array is a 2-D float map: {reasons}")]
    NoMapInArchive { file: String, reasons: String },
    #[error(
        "the score map is {width}x{height} (width x height), expected {expected_width}x{expected_height}"
    )]
    SizeMismatch {
        height: usize,
        width: usize,
        expected_height: usize,
        expected_width: usize,
    },
}

impl ScoreMap {
    /// Reads the score map in `bytes`, the contents of the file `file`
    /// (used only in messages).
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<Self, ScoreMapError> {
        if npy::recognises(bytes) {
            npy::read(file, bytes)
        } else if npz::recognises(bytes) {
            npz::read(file, bytes)
        } else if png16::recognises(bytes) {
            png16::read(file, bytes)
        } else if float_tiff::recognises(bytes) {
            float_tiff::read(file, bytes)
        } else if pfm::recognises(bytes) {
            pfm::read(file, bytes)
        } else {
            Err(ScoreMapError::UnknownFormat { file: file.into() })
        }
    }

    /// Succeeds when the map is `height` x `width`, as when it must cover
    /// an image pixel for pixel.
    pub fn expect_size(&self, height: usize, width: usize) -> Result<(), ScoreMapError> {
        if (self.height, self.width) == (height, width) {
            Ok(())
        } else {
            Err(ScoreMapError::SizeMismatch {
                height: self.height,
                width: self.width,
                expected_height: height,
                expected_width: width,
            })
        }
    }

    /// The map as a `[height, width]` tensor on `device`.
    pub fn into_tensor(self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.values, [self.height, self.width]),
            device,
        )
    }

    /// The map of `values`, refused if one is NaN or infinite or beyond
    /// ±[`MAX_SCORE_MAGNITUDE`].
    fn finite(
        file: &str,
        height: usize,
        width: usize,
        values: Vec<f32>,
    ) -> Result<Self, ScoreMapError> {
        // The values failing `bad`: how many, and the first with its index.
        let find = |bad: fn(f32) -> bool| {
            let mut failing = values.iter().enumerate().filter(|(_, v)| bad(**v));
            failing
                .next()
                .map(|(first, &value)| (1 + failing.count(), first, value))
        };
        if let Some((count, first, value)) = find(|v| !v.is_finite()) {
            return Err(ScoreMapError::NotFinite {
                file: file.into(),
                count,
                value,
                row: first / width,
                column: first % width,
            });
        }
        if let Some((count, first, value)) = find(|v| v.abs() > MAX_SCORE_MAGNITUDE) {
            return Err(ScoreMapError::OutOfRange {
                file: file.into(),
                count,
                value,
                row: first / width,
                column: first % width,
            });
        }
        Ok(Self {
            height,
            width,
            values,
        })
    }
}

/// The largest score magnitude a map may hold. Anomaly scores (energies,
/// logits, probabilities, 16-bit PNG levels) are far smaller; values near
/// f32's limit (a block of 3e38) overflow the generator's normalisation
/// and silently remove every detection.
pub const MAX_SCORE_MAGNITUDE: f32 = 1e6;

/// Checks a size read from a header, before anything is allocated for it.
fn check_size(file: &str, height: u64, width: u64) -> Result<(usize, usize), ScoreMapError> {
    if height == 0 || width == 0 {
        return Err(ScoreMapError::Empty {
            file: file.into(),
            height,
            width,
        });
    }
    if height > MAX_SIDE || width > MAX_SIDE {
        return Err(ScoreMapError::TooLarge {
            file: file.into(),
            height,
            width,
        });
    }
    Ok((height as usize, width as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
        npy::tests::npy_file("<f4", shape, &npy::tests::le_bytes(values))
    }

    #[test]
    fn unknown_bytes_are_named_with_the_formats_read() {
        for bytes in [&b""[..], b"hello, world", b"\xff\xd8\xff\xe0 a JPEG"] {
            let err = ScoreMap::from_bytes(bytes, "map.bin").unwrap_err();
            assert!(matches!(err, ScoreMapError::UnknownFormat { .. }), "{err}");
            let message = err.to_string();
            assert!(
                message.starts_with("map.bin: not a score map format"),
                "{message}"
            );
            assert!(
                message.contains(".npy, .npz, a 16-bit grayscale PNG"),
                "{message}"
            );
        }
    }

    #[test]
    fn non_finite_values_are_counted_and_the_first_located() {
        let mut values = vec![0.5f32; 12];
        values[7] = f32::NAN;
        values[9] = f32::INFINITY;
        values[10] = f32::NEG_INFINITY;
        let err = ScoreMap::from_bytes(&npy_f32(&[3, 4], &values), "nan.npy").unwrap_err();
        assert!(
            matches!(err, ScoreMapError::NotFinite { count: 3, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "nan.npy: 3 value(s) NaN or infinite, the first (NaN) at row 1, column 3"
        );
    }

    #[test]
    fn huge_finite_values_are_refused() {
        let mut values = vec![-8.0f32; 12];
        values[5] = 3e38;
        values[6] = -2e6;
        let err = ScoreMap::from_bytes(&npy_f32(&[3, 4], &values), "huge.npy").unwrap_err();
        assert!(
            matches!(
                err,
                ScoreMapError::OutOfRange {
                    count: 2,
                    row: 1,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("beyond ±1e6"), "{err}");
        values[5] = 1e6;
        values[6] = -65535.0;
        assert!(ScoreMap::from_bytes(&npy_f32(&[3, 4], &values), "ok.npy").is_ok());
    }

    #[test]
    fn empty_maps_are_refused() {
        for shape in [[0, 5], [5, 0]] {
            let err = ScoreMap::from_bytes(&npy_f32(&shape, &[]), "empty.npy").unwrap_err();
            assert!(matches!(err, ScoreMapError::Empty { .. }), "{err}");
            assert!(err.to_string().contains("the map is empty"), "{err}");
        }
    }

    /// The size is refused from the header alone: the file holds no data.
    #[test]
    fn oversized_maps_are_refused_before_reading_the_data() {
        let header_only = npy::tests::npy_file("<f4", &[20_000, 300], &[]);
        let err = ScoreMap::from_bytes(&header_only, "huge.npy").unwrap_err();
        assert!(matches!(err, ScoreMapError::TooLarge { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "huge.npy: the map is 300x20000 (width x height), larger than 16384 per side"
        );
    }

    #[test]
    fn expect_size_names_both_sizes() {
        let map = ScoreMap::from_bytes(&npy_f32(&[2, 3], &[0.0; 6]), "map.npy").unwrap();
        map.expect_size(2, 3).unwrap();
        let err = map.expect_size(576, 1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the score map is 3x2 (width x height), expected 1024x576"
        );
    }

    #[test]
    fn the_tensor_is_height_by_width() {
        let map =
            ScoreMap::from_bytes(&npy_f32(&[2, 3], &[0., 1., 2., 3., 4., 5.]), "m.npy").unwrap();
        let tensor = map.into_tensor(&Device::flex());
        assert_eq!(tensor.dims(), [2, 3]);
        let values = tensor.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values, vec![0., 1., 2., 3., 4., 5.]);
    }
}
