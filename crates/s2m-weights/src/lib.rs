//! Model weights for s2m-web.
//!
//! Official checkpoints are PyTorch pickles; the browser cannot read those, so
//! they are converted once, natively, into safetensors files (f32 and f16)
//! whose tensor names are the paths of our Burn modules (see [`key_map`]).
//! A [`manifest::Manifest`] lists every converted file with its size and
//! sha256 so that any consumer (CLI, browser) can verify what it loaded.
//!
//! Where the weights come from is documented in `weights/README.md` and in
//! `../shared/REFERENCE.md` ("Weights that exist publicly").

pub mod error;
pub mod integrity;
pub mod key_map;
pub mod manifest;

#[cfg(not(target_arch = "wasm32"))]
pub mod checkpoint;
#[cfg(not(target_arch = "wasm32"))]
pub mod convert;
#[cfg(not(target_arch = "wasm32"))]
pub mod fetch;

pub use error::WeightsError;
pub use manifest::{Manifest, ManifestEntry, StorageDType};
