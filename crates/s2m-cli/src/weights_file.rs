//! Loading a model from a weights file the user names: a safetensors file
//! written by `s2m weights convert` or `s2m train-generator` (f32 or f16),
//! or an official PyTorch checkpoint (detectron2 `model_final.pth` for the
//! prompt generator, RPL / PEBAL checkpoints for the scorer) converted in
//! memory the same way. Configurations follow from the tensor names and
//! shapes (and the metadata of a generator we trained).

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use s2m_core::detector::Detector;
use s2m_core::scorer::DeepWv3Plus;
use s2m_core::weights::{detector_config_of, load_detector, load_scorer, scorer_config_of};
use s2m_weights::checkpoint::{NamedTensor, read_pytorch_checkpoint};
use s2m_weights::convert::to_safetensors_bytes;
use s2m_weights::key_map::official_to_ours;
use s2m_weights::manifest::MANIFEST_FILE;
use s2m_weights::{Manifest, StorageDType, integrity};

const GENERATOR: &str = "expected the prompt generator's weights: a .safetensors file \
                         from `s2m weights convert` or `s2m train-generator`, or a \
                         detectron2 .pth checkpoint";
const SCORER: &str = "expected RPL or PEBAL weights: a .safetensors file from \
                      `s2m weights convert` or the authors' .pth checkpoint";

/// Checks `bytes`, read from `path`, against the `manifest.json` beside
/// it when that manifest lists the file (the shipped weights: a flipped
/// bit or a truncated copy is refused, as the page refuses it); a file no
/// manifest lists (the user's own) is left to the loader's shape checks.
pub fn verify_if_listed(path: &Path, bytes: &[u8]) -> Result<()> {
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let manifest_path = folder.join(MANIFEST_FILE);
    if !manifest_path.is_file() {
        return Ok(());
    }
    let manifest = Manifest::read(&manifest_path)?;
    let name = name.to_string_lossy();
    if let Some(entry) = manifest.files.iter().find(|e| e.name == name) {
        integrity::verify(&entry.name, bytes, entry.size, &entry.sha256).with_context(|| {
            format!(
                "{} does not match {} (damaged? `s2m weights fetch` restores it)",
                path.display(),
                manifest_path.display()
            )
        })?;
    }
    Ok(())
}

/// The prompt generator whose weights are in the file at `path`, on `device`.
pub fn load_detector_file(path: &Path, device: &Device) -> Result<Detector> {
    let (bytes, file) = read_as_safetensors(path, GENERATOR)?;
    let config = detector_config_of(&bytes, &file)?;
    Ok(load_detector(&config, bytes, &file, device)?)
}

/// The RPL / PEBAL scorer whose weights are in the file at `path`.
pub fn load_scorer_file(path: &Path, device: &Device) -> Result<DeepWv3Plus> {
    let (bytes, file) = read_as_safetensors(path, SCORER)?;
    let config = scorer_config_of(&bytes, &file)?;
    Ok(load_scorer(&config, bytes, &file, device)?)
}

/// The file at `path` as safetensors bytes with our tensor names, and its
/// name for messages; `expected` says what it should have been.
fn read_as_safetensors(path: &Path, expected: &str) -> Result<(Vec<u8>, String)> {
    let file = path.display().to_string();
    let bytes = crate::input_files::read_regular_file(path)
        .with_context(|| format!("cannot read weights {file}"))?;
    verify_if_listed(path, &bytes)?;
    let bytes = if looks_like_safetensors(&bytes) {
        bytes
    } else {
        checkpoint_as_safetensors(path).with_context(|| format!("{file}: {expected}"))?
    };
    Ok((bytes, file))
}

/// A safetensors file starts with its header's length (u64) and the JSON
/// header; a PyTorch checkpoint is a zip or a pickle.
fn looks_like_safetensors(bytes: &[u8]) -> bool {
    bytes.get(8) == Some(&b'{')
}

/// The PyTorch checkpoint at `path` with our tensor names, as an f32
/// safetensors file in memory.
fn checkpoint_as_safetensors(path: &Path) -> Result<Vec<u8>> {
    let official = read_pytorch_checkpoint(path, |name| official_to_ours(name).is_some())?;
    let ours: Vec<NamedTensor> = official
        .into_iter()
        .filter_map(|t| {
            Some(NamedTensor {
                name: official_to_ours(&t.name)?,
                ..t
            })
        })
        .collect();
    Ok(to_safetensors_bytes(&ours, StorageDType::F32)?)
}
