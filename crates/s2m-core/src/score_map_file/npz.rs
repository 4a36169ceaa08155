//! NumPy `.npz` score maps: the zip of `.npy` files that `np.savez`
//! (stored) and `np.savez_compressed` (deflated) write. The map is the
//! first array, in archive order, whose dtype and shape [`super::npy`]
//! accepts; array names follow numpy (`<name>.npy`, other files ignored).
//! A member whose CRC-32 does not match its bytes is refused.

use std::io::{Cursor, Read};

use zip::ZipArchive;
use zip::result::ZipError;

use super::{MAX_SIDE, ScoreMap, ScoreMapError, npy};

/// Local file header or, for an archive without files, end of directory.
const MAGICS: [&[u8]; 2] = [b"PK\x03\x04", b"PK\x05\x06"];

/// The largest array member read: a float64 map of the largest size, and
/// its header.
const MAX_MEMBER_BYTES: u64 = MAX_SIDE * MAX_SIDE * 8 + (1 << 16);

pub fn recognises(bytes: &[u8]) -> bool {
    MAGICS.iter().any(|magic| bytes.starts_with(magic))
}

pub fn read(file: &str, bytes: &[u8]) -> Result<ScoreMap, ScoreMapError> {
    let corrupt = |e: ZipError| ScoreMapError::Corrupt {
        file: file.into(),
        format: ".npz (zip)",
        message: e.to_string(),
    };
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
    let mut rejected = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(corrupt)?;
        let path = entry.name().map_err(corrupt)?.into_owned();
        let Some(name) = npyz::npz::array_name_from_file_name(&path) else {
            continue;
        };
        let label = format!("{file}, array `{name}`");
        // The whole member is read first, so that the archive's CRC-32 is
        // checked (at the member's end) before any value is used.
        let mut member = Vec::new();
        entry
            .by_ref()
            .take(MAX_MEMBER_BYTES + 1)
            .read_to_end(&mut member)
            .map_err(|e| ScoreMapError::Corrupt {
                file: label.clone(),
                format: ".npz (zip)",
                message: e.to_string(),
            })?;
        if member.len() as u64 > MAX_MEMBER_BYTES {
            return Err(ScoreMapError::Corrupt {
                file: label,
                format: ".npz (zip)",
                message: format!("the array holds over {MAX_MEMBER_BYTES} bytes"),
            });
        }
        let len = member.len() as u64;
        match npy::open(&label, Cursor::new(member), len) {
            Ok(array) => return array.read(),
            Err(e @ (ScoreMapError::WrongType { .. } | ScoreMapError::WrongShape { .. })) => {
                rejected.push(e)
            }
            Err(e) => return Err(e),
        }
    }
    match rejected.len() {
        0 => Err(ScoreMapError::Corrupt {
            file: file.into(),
            format: ".npz",
            message: "it holds no .npy arrays".into(),
        }),
        1 => Err(rejected.remove(0)),
        _ => Err(ScoreMapError::NoMapInArchive {
            file: file.into(),
            reasons: rejected
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::CompressionMethod;
    use zip::write::{SimpleFileOptions, ZipWriter};

    use super::*;
    use crate::score_map_file::npy::tests::{le_bytes, npy_file};

    fn npz_file(method: CompressionMethod, files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in files {
            let options = SimpleFileOptions::default().compression_method(method);
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    const VALUES: [f32; 6] = [0.0, 0.25, 0.5, 0.75, 1.0, -3.5];

    #[test]
    fn stored_and_deflated_archives() {
        for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
            let bytes = npz_file(
                method,
                &[("arr_0.npy", npy_file("<f4", &[2, 3], &le_bytes(&VALUES)))],
            );
            let map = ScoreMap::from_bytes(&bytes, "map.npz").unwrap();
            assert_eq!((map.height, map.width, map.values), (2, 3, VALUES.to_vec()));
        }
    }

    #[test]
    fn a_member_with_a_bad_checksum_is_refused() {
        let npy = npy_file("<f4", &[2, 3], &le_bytes(&VALUES));
        let mut bytes = npz_file(CompressionMethod::Stored, &[("arr_0.npy", npy.clone())]);
        // Flip one bit of the last value inside the stored member.
        let at = bytes
            .windows(npy.len())
            .position(|w| w == npy.as_slice())
            .unwrap()
            + npy.len()
            - 1;
        bytes[at] ^= 0x01;
        let err = ScoreMap::from_bytes(&bytes, "crc.npz").unwrap_err();
        assert!(matches!(err, ScoreMapError::Corrupt { .. }), "{err}");
        assert!(err.to_string().to_lowercase().contains("checksum"), "{err}");
    }

    #[test]
    fn the_first_2d_float_array_is_the_map() {
        let bytes = npz_file(
            CompressionMethod::Deflated,
            &[
                ("readme.txt", b"not an array".to_vec()),
                ("labels.npy", npy_file("<i8", &[2], &[0; 16])),
                ("boxes.npy", npy_file("<f4", &[1, 4], &le_bytes(&[0.0; 4]))),
                ("scores.npy", npy_file("<f4", &[3, 2], &le_bytes(&VALUES))),
            ],
        );
        // The text file and the 1-D integer array are passed over; `boxes`
        // is a 2-D float array too, and comes before `scores`.
        let map = ScoreMap::from_bytes(&bytes, "maps.npz").unwrap();
        assert_eq!((map.height, map.width), (1, 4));
    }

    #[test]
    fn a_single_unusable_array_gives_its_own_error() {
        let bytes = npz_file(
            CompressionMethod::Stored,
            &[("scores.npy", npy_file("<i4", &[2, 3], &[0; 24]))],
        );
        let err = ScoreMap::from_bytes(&bytes, "ints.npz").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ints.npz, array `scores`: holds dtype '<i4'"),
            "{err}"
        );
    }

    #[test]
    fn several_unusable_arrays_are_each_explained() {
        let bytes = npz_file(
            CompressionMethod::Stored,
            &[
                ("a.npy", npy_file("<i4", &[2, 3], &[0; 24])),
                ("b.npy", npy_file("<f4", &[6], &le_bytes(&VALUES))),
            ],
        );
        let err = ScoreMap::from_bytes(&bytes, "x.npz").unwrap_err();
        assert!(matches!(err, ScoreMapError::NoMapInArchive { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("x.npz, array `a`: holds dtype '<i4'"),
            "{message}"
        );
        assert!(message.contains("x.npz, array `b`: shape [6]"), "{message}");
    }

    #[test]
    fn an_archive_without_arrays_or_cut_short_is_named() {
        let empty = npz_file(CompressionMethod::Stored, &[]);
        let err = ScoreMap::from_bytes(&empty, "empty.npz").unwrap_err();
        assert!(err.to_string().contains("holds no .npy arrays"), "{err}");

        let bytes = npz_file(
            CompressionMethod::Deflated,
            &[("arr_0.npy", npy_file("<f4", &[2, 3], &le_bytes(&VALUES)))],
        );
        let err = ScoreMap::from_bytes(&bytes[..bytes.len() - 30], "cut.npz").unwrap_err();
        assert!(matches!(err, ScoreMapError::Corrupt { .. }), "{err}");
        assert!(
            err.to_string().starts_with("cut.npz: not a readable .npz"),
            "{err}"
        );
    }
}
