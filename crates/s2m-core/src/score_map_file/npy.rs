//! NumPy `.npy` score maps (format versions 1 to 3 as `numpy.lib.format`
//! writes them), header and values read through npyz: float32 or float64
//! in either byte order, shape `[H, W]`, `[1, H, W]` or `[H, W, 1]`, C or
//! Fortran order.
//!
//! npyz allocates the header length a file declares before reading the
//! header, so that length is first checked here against the file's size.

use std::io::{Chain, Cursor, Read};

use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar};

use super::{ScoreMap, ScoreMapError, check_size};

/// The magic string every `.npy` file starts with.
const MAGIC: &[u8] = b"\x93NUMPY";
/// Magic, version and header length: a u16 in version 1 (10 bytes), a u32
/// in versions 2 and 3 (12 bytes).
const PREAMBLE: usize = 12;

pub fn recognises(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

pub fn read(file: &str, bytes: &[u8]) -> Result<ScoreMap, ScoreMapError> {
    open(file, bytes, bytes.len() as u64)?.read()
}

/// The file after the preamble read for the length check: that preamble
/// put back in front of the rest.
type Rest<R> = Chain<Cursor<[u8; PREAMBLE]>, R>;

/// An array whose header passed every check, positioned at its values.
pub struct Array<'a, R> {
    file: &'a str,
    header: NpyHeader,
    values: R,
    height: usize,
    width: usize,
    float64: bool,
}

/// Reads and checks the header of the `.npy` file of `len` bytes that
/// `reader` starts at; `file` names it in messages.
pub fn open<R: Read>(
    file: &str,
    mut reader: R,
    len: u64,
) -> Result<Array<'_, Rest<R>>, ScoreMapError> {
    let corrupt = |message: String| ScoreMapError::Corrupt {
        file: file.into(),
        format: ".npy",
        message,
    };
    let truncated = |part, expected| ScoreMapError::Truncated {
        file: file.into(),
        part,
        expected,
        found: len,
    };
    let mut preamble = [0u8; PREAMBLE];
    if len < PREAMBLE as u64 {
        return Err(truncated("header", PREAMBLE as u64));
    }
    reader
        .read_exact(&mut preamble)
        .map_err(|e| corrupt(e.to_string()))?;
    let [.., major, _, l0, l1, l2, l3] = preamble;
    let header_end = match major {
        1 => 10 + u16::from_le_bytes([l0, l1]) as u64,
        _ => 12 + u32::from_le_bytes([l0, l1, l2, l3]) as u64,
    };
    if header_end > len {
        return Err(truncated("header", header_end));
    }
    let mut values = Cursor::new(preamble).chain(reader);
    let header = NpyHeader::from_reader(&mut values).map_err(|e| corrupt(e.to_string()))?;

    let float64 = match header.dtype() {
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 4 => false,
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 8 => true,
        other => {
            return Err(ScoreMapError::WrongType {
                file: file.into(),
                found: format!("holds dtype {}", other.descr()),
                needed: "a score map needs float32 or float64 values (`scores.astype(np.float32)`)",
            });
        }
    };
    let (height, width) = match *header.shape() {
        [h, w] | [1, h, w] | [h, w, 1] => check_size(file, h, w)?,
        ref shape => {
            return Err(ScoreMapError::WrongShape {
                file: file.into(),
                shape: format!("{shape:?}"),
            });
        }
    };
    let data_bytes = (height * width) as u64 * if float64 { 8 } else { 4 };
    if header_end + data_bytes > len {
        return Err(truncated("data", header_end + data_bytes));
    }
    Ok(Array {
        file,
        header,
        values,
        height,
        width,
        float64,
    })
}

impl<R: Read> Array<'_, R> {
    /// Reads the values, row-major.
    pub fn read(self) -> Result<ScoreMap, ScoreMapError> {
        let corrupt = |message: String| ScoreMapError::Corrupt {
            file: self.file.into(),
            format: ".npy",
            message,
        };
        let fortran = self.header.order() == Order::Fortran;
        let npy = NpyFile::with_header(self.header, self.values);
        let values: Vec<f32> = if self.float64 {
            npy.data::<f64>()
                .map_err(|e| corrupt(e.to_string()))?
                .map(|v| v.map(|v| v as f32))
                .collect::<Result<_, _>>()
        } else {
            npy.data::<f32>()
                .map_err(|e| corrupt(e.to_string()))?
                .collect::<Result<_, _>>()
        }
        .map_err(|e| corrupt(e.to_string()))?;
        let values = if fortran {
            // Column-major: (row, column) is at column * height + row.
            (0..self.height)
                .flat_map(|row| (0..self.width).map(move |column| (row, column)))
                .map(|(row, column)| values[column * self.height + row])
                .collect()
        } else {
            values
        };
        ScoreMap::finite(self.file, self.height, self.width, values)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn le_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// A version 1 `.npy` file as `np.save` writes it: the header dict
    /// padded with spaces to a multiple of 64 bytes, then `data`.
    pub fn npy_file(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
        npy_file_with_order(descr, shape, false, data)
    }

    fn npy_file_with_order(descr: &str, shape: &[usize], fortran: bool, data: &[u8]) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let shape = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        let order = if fortran { "True" } else { "False" };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend([1, 0]);
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    const VALUES: [f32; 6] = [0.0, 0.25, 0.5, 0.75, 1.0, -3.5];

    fn read_ok(bytes: &[u8]) -> ScoreMap {
        ScoreMap::from_bytes(bytes, "map.npy").unwrap()
    }

    #[test]
    fn float32_c_order() {
        let map = read_ok(&npy_file("<f4", &[2, 3], &le_bytes(&VALUES)));
        assert_eq!((map.height, map.width), (2, 3));
        assert_eq!(map.values, VALUES);
    }

    #[test]
    fn float64_and_big_endian_float32() {
        let f64s: Vec<u8> = VALUES
            .iter()
            .flat_map(|v| (*v as f64).to_le_bytes())
            .collect();
        assert_eq!(read_ok(&npy_file("<f8", &[2, 3], &f64s)).values, VALUES);
        let be: Vec<u8> = VALUES.iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(read_ok(&npy_file(">f4", &[2, 3], &be)).values, VALUES);
    }

    #[test]
    fn fortran_order_is_transposed_to_row_major() {
        // Columns of [[0, .25, .5], [.75, 1, -3.5]].
        let columns = [0.0, 0.75, 0.25, 1.0, 0.5, -3.5];
        let map = read_ok(&npy_file_with_order(
            "<f4",
            &[2, 3],
            true,
            &le_bytes(&columns),
        ));
        assert_eq!(map.values, VALUES);
    }

    #[test]
    fn a_unit_first_or_last_axis_is_dropped() {
        for shape in [[1, 2, 3], [2, 3, 1]] {
            let map = read_ok(&npy_file("<f4", &shape, &le_bytes(&VALUES)));
            assert_eq!((map.height, map.width), (2, 3), "{shape:?}");
        }
    }

    #[test]
    fn other_ranks_are_refused_with_the_shape() {
        for shape in [&[6][..], &[2, 1, 3], &[2, 3, 2], &[1, 1, 2, 3]] {
            let n = shape.iter().product::<usize>();
            let bytes = npy_file("<f4", shape, &le_bytes(&vec![0.0; n]));
            let err = ScoreMap::from_bytes(&bytes, "map.npy").unwrap_err();
            assert!(matches!(err, ScoreMapError::WrongShape { .. }), "{err}");
        }
        let bytes = npy_file("<f4", &[2, 3, 2], &le_bytes(&[0.0; 12]));
        assert_eq!(
            ScoreMap::from_bytes(&bytes, "map.npy")
                .unwrap_err()
                .to_string(),
            "map.npy: shape [2, 3, 2] is not a 2-D map (height, width)"
        );
    }

    #[test]
    fn integer_and_other_dtypes_are_refused_with_the_dtype() {
        for (descr, size) in [("<i4", 4), ("<i8", 8), ("|u1", 1), ("|b1", 1), ("<f2", 2)] {
            let bytes = npy_file(descr, &[2, 3], &vec![0; 6 * size]);
            let err = ScoreMap::from_bytes(&bytes, "ints.npy").unwrap_err();
            assert!(matches!(err, ScoreMapError::WrongType { .. }), "{err}");
            assert!(
                err.to_string().starts_with(&format!(
                    "ints.npy: holds dtype '{descr}'; a score map needs float32"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn truncated_data_is_named_with_the_sizes() {
        let mut bytes = npy_file("<f4", &[2, 3], &le_bytes(&VALUES));
        let len = bytes.len();
        bytes.truncate(len - 5);
        let err = ScoreMap::from_bytes(&bytes, "cut.npy").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cut.npy: truncated: its data needs {len} bytes, the file has {}",
                len - 5
            )
        );
    }

    /// A header length beyond the end of the file is refused before npyz
    /// would allocate it.
    #[test]
    fn a_truncated_or_lying_header_is_refused() {
        let bytes = npy_file("<f4", &[2, 3], &le_bytes(&VALUES));
        let header = bytes.len() - 24;
        let err = ScoreMap::from_bytes(&bytes[..40], "cut.npy").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cut.npy: truncated: its header needs {header} bytes, the file has 40")
        );
        let mut lying = MAGIC.to_vec();
        lying.extend([2, 0]);
        lying.extend(u32::MAX.to_le_bytes());
        lying.extend(b"{'descr': '<f4'");
        let err = ScoreMap::from_bytes(&lying, "lying.npy").unwrap_err();
        assert!(
            matches!(err, ScoreMapError::Truncated { part: "header", .. }),
            "{err}"
        );
    }

    #[test]
    fn a_garbled_header_is_corrupt() {
        let mut bytes = npy_file("<f4", &[2, 3], &le_bytes(&VALUES));
        bytes[12..20].copy_from_slice(b"garbage!");
        let err = ScoreMap::from_bytes(&bytes, "bad.npy").unwrap_err();
        assert!(matches!(err, ScoreMapError::Corrupt { .. }), "{err}");
        assert!(
            err.to_string().starts_with("bad.npy: not a readable .npy"),
            "{err}"
        );
    }
}
