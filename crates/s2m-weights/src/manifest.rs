//! `weights/manifest.json`: the list of converted weight files that the CLI
//! and the browser read. Each entry carries what is needed to verify a file
//! before use (size, sha256) and to pick one (model, dtype).

use serde::{Deserialize, Serialize};

use crate::WeightsError;

/// File name of the manifest inside a weights directory or base URL.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The element type a converted file stores its floats in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageDType {
    F32,
    F16,
}

impl StorageDType {
    /// Suffix used in file names: `mobile_sam.f16.safetensors`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// File name relative to the manifest.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hexadecimal sha256 of the file.
    pub sha256: String,
    pub dtype: StorageDType,
    /// The model the file belongs to, e.g. `mobile_sam` or `sam_vit_b`.
    pub model: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub files: Vec<ManifestEntry>,
}

impl Manifest {
    pub fn from_json(file: &str, json: &str) -> Result<Self, WeightsError> {
        serde_json::from_str(json).map_err(|e| WeightsError::Manifest {
            file: file.to_owned(),
            message: e.to_string(),
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest always serialises")
    }

    /// Adds `entry`, replacing an entry of the same file name.
    pub fn upsert(&mut self, entry: ManifestEntry) {
        self.files.retain(|e| e.name != entry.name);
        self.files.push(entry);
        self.files.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// The file of `model` stored as `dtype`, if converted.
    pub fn find(&self, model: &str, dtype: StorageDType) -> Option<&ManifestEntry> {
        self.files
            .iter()
            .find(|e| e.model == model && e.dtype == dtype)
    }

    /// The file of `model` in the first of `dtypes` that is converted.
    pub fn find_preferred(&self, model: &str, dtypes: &[StorageDType]) -> Option<&ManifestEntry> {
        dtypes.iter().find_map(|&dtype| self.find(model, dtype))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn read(path: &std::path::Path) -> Result<Self, WeightsError> {
        let json = std::fs::read_to_string(path).map_err(|e| WeightsError::io(path, e))?;
        Self::from_json(&path.display().to_string(), &json)
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn write(&self, path: &std::path::Path) -> Result<(), WeightsError> {
        std::fs::write(path, self.to_json()).map_err(|e| WeightsError::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, dtype: StorageDType) -> ManifestEntry {
        ManifestEntry {
            name: name.into(),
            size: 3,
            sha256: "ab".into(),
            dtype,
            model: "mobile_sam".into(),
        }
    }

    #[test]
    fn round_trips_through_json_and_upserts_by_name() {
        let mut m = Manifest::default();
        m.upsert(entry("b.f32.safetensors", StorageDType::F32));
        m.upsert(entry("a.f16.safetensors", StorageDType::F16));
        m.upsert(entry("b.f32.safetensors", StorageDType::F32));
        assert_eq!(m.files.len(), 2);
        let back = Manifest::from_json("manifest.json", &m.to_json()).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.find("mobile_sam", StorageDType::F16).unwrap().name,
            "a.f16.safetensors"
        );
        assert!(back.to_json().contains("\"dtype\": \"f16\""));
    }

    #[test]
    fn the_preferred_dtype_wins_and_the_next_one_stands_in() {
        let mut m = Manifest::default();
        m.upsert(entry("a.f32.safetensors", StorageDType::F32));
        let f16_first = [StorageDType::F16, StorageDType::F32];
        assert_eq!(
            m.find_preferred("mobile_sam", &f16_first).unwrap().name,
            "a.f32.safetensors"
        );
        m.upsert(entry("a.f16.safetensors", StorageDType::F16));
        assert_eq!(
            m.find_preferred("mobile_sam", &f16_first).unwrap().name,
            "a.f16.safetensors"
        );
        assert!(m.find_preferred("sam_vit_b", &f16_first).is_none());
    }

    #[test]
    fn malformed_json_names_the_file() {
        let err = Manifest::from_json("weights/manifest.json", "{\"files\": [1]}").unwrap_err();
        assert!(err.to_string().contains("weights/manifest.json"), "{err}");
    }
}
