//! Portable Float Map score maps, grayscale, after Paul Debevec's
//! definition (<https://www.pauldebevec.com/Research/HDR/PFM/>), as the
//! Middlebury stereo tools and OpenCV write them: the text header
//! `Pf <width> <height> <scale>` (whitespace-separated, a single whitespace
//! byte after the scale), then float32 rows from the bottom of the image to
//! the top, little-endian when the scale is negative, big-endian otherwise.

use super::{ScoreMap, ScoreMapError, check_size};

pub fn recognises(bytes: &[u8]) -> bool {
    matches!(bytes, [b'P', b'f' | b'F', next, ..] if next.is_ascii_whitespace())
}

pub fn read(file: &str, bytes: &[u8]) -> Result<ScoreMap, ScoreMapError> {
    let corrupt = |message: &str| ScoreMapError::Corrupt {
        file: file.into(),
        format: "PFM",
        message: message.into(),
    };
    if bytes.starts_with(b"PF") {
        return Err(ScoreMapError::WrongType {
            file: file.into(),
            found: "is a colour PFM ('PF')".into(),
            needed: "a PFM score map must be grayscale ('Pf')",
        });
    }
    let mut header = Header { bytes, at: 2 };
    let width = header.token().and_then(|t| t.parse::<u64>().ok());
    let height = header.token().and_then(|t| t.parse::<u64>().ok());
    let scale = header.token().and_then(|t| t.parse::<f32>().ok());
    let (Some(width), Some(height), Some(scale)) = (width, height, scale) else {
        return Err(corrupt("the header is not `Pf <width> <height> <scale>`"));
    };
    if scale == 0.0 || !scale.is_finite() {
        return Err(corrupt("the scale must be a non-zero number"));
    }
    let (height, width) = check_size(file, height, width)?;
    // One whitespace byte ends the header.
    let data = &bytes[(header.at + 1).min(bytes.len())..];
    let expected = height * width * 4;
    if data.len() < expected {
        return Err(ScoreMapError::Truncated {
            file: file.into(),
            part: "data",
            expected: (bytes.len() - data.len() + expected) as u64,
            found: bytes.len() as u64,
        });
    }
    let decode = if scale < 0.0 {
        f32::from_le_bytes
    } else {
        f32::from_be_bytes
    };
    let values = data[..expected]
        .chunks_exact(width * 4)
        .rev()
        .flat_map(|row| row.chunks_exact(4))
        .map(|v| decode([v[0], v[1], v[2], v[3]]))
        .collect();
    ScoreMap::finite(file, height, width, values)
}

/// The whitespace-separated ASCII tokens of the header.
struct Header<'a> {
    bytes: &'a [u8],
    /// Just past the last token read.
    at: usize,
}

impl<'a> Header<'a> {
    fn token(&mut self) -> Option<&'a str> {
        let start = self.at
            + self.bytes[self.at..]
                .iter()
                .position(|b| !b.is_ascii_whitespace())?;
        let len = self.bytes[start..]
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(self.bytes.len() - start);
        self.at = start + len;
        std::str::from_utf8(&self.bytes[start..self.at]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rows` top to bottom; written bottom to top as the format wants.
    fn pfm_file(rows: &[&[f32]], little_endian: bool) -> Vec<u8> {
        let scale = if little_endian { "-1.0" } else { "1.0" };
        let mut bytes = format!("Pf\n{} {}\n{scale}\n", rows[0].len(), rows.len()).into_bytes();
        for row in rows.iter().rev() {
            for v in *row {
                bytes.extend(if little_endian {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
        }
        bytes
    }

    const ROWS: [&[f32]; 2] = [&[0.0, 0.25, 0.5], &[0.75, 1.0, -3.5]];

    #[test]
    fn either_byte_order_rows_bottom_to_top() {
        for little_endian in [true, false] {
            let map = ScoreMap::from_bytes(&pfm_file(&ROWS, little_endian), "map.pfm").unwrap();
            assert_eq!((map.height, map.width), (2, 3));
            assert_eq!(map.values, ROWS.concat(), "little-endian {little_endian}");
        }
    }

    #[test]
    fn colour_pfm_is_refused() {
        let mut bytes = pfm_file(&ROWS, true);
        bytes[1] = b'F';
        let err = ScoreMap::from_bytes(&bytes, "rgb.pfm").unwrap_err();
        assert_eq!(
            err.to_string(),
            "rgb.pfm: is a colour PFM ('PF'); a PFM score map must be grayscale ('Pf')"
        );
    }

    #[test]
    fn a_bad_header_is_corrupt() {
        for bytes in [&b"Pf\n3\n"[..], b"Pf\nthree 2\n-1\n", b"Pf 3 2 0\n"] {
            let err = ScoreMap::from_bytes(bytes, "bad.pfm").unwrap_err();
            assert!(matches!(err, ScoreMapError::Corrupt { .. }), "{err}");
            assert!(err.to_string().starts_with("bad.pfm: not a readable PFM"));
        }
    }

    #[test]
    fn truncated_data_is_named_with_the_sizes() {
        let bytes = pfm_file(&ROWS, true);
        let header = bytes.len() - 24;
        let err = ScoreMap::from_bytes(&bytes[..bytes.len() - 1], "cut.pfm").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cut.pfm: truncated: its data needs {} bytes, the file has {}",
                header + 24,
                header + 23
            )
        );
    }

    #[test]
    fn infinite_values_are_refused() {
        let err = ScoreMap::from_bytes(
            &pfm_file(&[&[0.0, f32::INFINITY], &[1.0, 2.0]], false),
            "inf.pfm",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("1 value(s) NaN or infinite, the first (inf) at row 0, column 1"),
            "{err}"
        );
    }
}
