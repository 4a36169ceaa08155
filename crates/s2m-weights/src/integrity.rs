//! Size and sha256 checks run on every weights file before it is used.

use sha2::{Digest, Sha256};

use crate::WeightsError;

/// Lower-case hexadecimal sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that `bytes` are exactly the file the manifest describes: first
/// the size (a truncated download is the common case and is named as such),
/// then the sha256.
pub fn verify(
    file: &str,
    bytes: &[u8],
    expected_size: u64,
    expected_sha256: &str,
) -> Result<(), WeightsError> {
    let actual_size = bytes.len() as u64;
    if actual_size != expected_size {
        return Err(WeightsError::SizeMismatch {
            file: file.to_owned(),
            expected: expected_size,
            actual: actual_size,
        });
    }
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(expected_sha256) {
        return Err(WeightsError::Sha256Mismatch {
            file: file.to_owned(),
            expected: expected_sha256.to_owned(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn truncated_bytes_are_a_size_error() {
        let bytes = b"hello world";
        let sha = sha256_hex(bytes);
        let err = verify("w.safetensors", &bytes[..5], 11, &sha).unwrap_err();
        assert!(
            matches!(err, WeightsError::SizeMismatch { actual: 5, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("w.safetensors"));
    }

    #[test]
    fn altered_bytes_are_a_sha_error() {
        let sha = sha256_hex(b"hello world");
        let err = verify("w.safetensors", b"hello_world", 11, &sha).unwrap_err();
        assert!(matches!(err, WeightsError::Sha256Mismatch { .. }), "{err}");
        verify("w.safetensors", b"hello world", 11, &sha).unwrap();
    }
}
