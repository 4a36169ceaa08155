//! Errors of everything that reads, fetches or converts weights. Each names
//! the file (and the tensor, where one is at fault) so that a user can act.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read or write {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{file}: sha256 is {actual}, expected {expected} (corrupt or wrong file; delete it and fetch again)"
    )]
    Sha256Mismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("{file}: size is {actual} bytes, expected {expected} (truncated or wrong file)")]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },
    #[error("{file}: not a readable PyTorch checkpoint: {message}")]
    Checkpoint { file: String, message: String },
    #[error("{file}: tensor `{tensor}`: {message}")]
    Tensor {
        file: String,
        tensor: String,
        message: String,
    },
    #[error("{file}: not a valid safetensors file: {message}")]
    Safetensors { file: String, message: String },
    #[error("manifest {file}: {message}")]
    Manifest { file: String, message: String },
    #[error("fetching {what} failed: {message}")]
    Fetch { what: String, message: String },
}

impl WeightsError {
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }
}
