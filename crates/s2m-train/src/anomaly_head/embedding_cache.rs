//! SAM's embeddings of the training frames, computed once (the encoder is
//! nearly all the cost: seconds a frame on a CPU, the head's step is
//! milliseconds) and kept on disk with each frame's token targets: one
//! safetensors file a frame, `embedding` as f16 `[channels, grid, grid]`
//! (2 MiB for SAM's 256 x 64 x 64), `anomaly` and `weight` as f32
//! `[grid, grid]`, and the frame's name in the metadata.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use half::f16;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use super::{HeadError, TokenTargets};

/// One cached frame.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    pub name: String,
    pub channels: usize,
    pub targets: TokenTargets,
    /// `channels * grid * grid`, channel-major.
    pub embedding: Vec<f32>,
}

const NAME_KEY: &str = "s2m.frame";

/// Writes `entry` as `<dir>/<index, 5 digits>.safetensors`.
pub fn write_cache_entry(
    dir: &Path,
    index: usize,
    entry: &CacheEntry,
) -> Result<PathBuf, HeadError> {
    let grid = entry.targets.grid;
    let embedding: Vec<u8> = entry
        .embedding
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
        .collect();
    let bytes =
        |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let (anomaly, weight) = (bytes(&entry.targets.anomaly), bytes(&entry.targets.weight));
    fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>, HeadError> {
        TensorView::new(dtype, shape, data).map_err(|e| HeadError::Training(e.to_string()))
    }
    let tensors = vec![
        (
            "embedding",
            view(Dtype::F16, vec![entry.channels, grid, grid], &embedding)?,
        ),
        ("anomaly", view(Dtype::F32, vec![grid, grid], &anomaly)?),
        ("weight", view(Dtype::F32, vec![grid, grid], &weight)?),
    ];
    let metadata = HashMap::from([(NAME_KEY.to_string(), entry.name.clone())]);
    let path = dir.join(format!("{index:05}.safetensors"));
    let file = safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| HeadError::Training(e.to_string()))?;
    std::fs::write(&path, file).map_err(|e| HeadError::input(&path, e))?;
    Ok(path)
}

/// Every entry of the cache in `dir`, by file name.
pub fn read_cache(dir: &Path) -> Result<Vec<CacheEntry>, HeadError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| HeadError::input(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(HeadError::input(
            dir,
            "no cached embedding (*.safetensors) in it",
        ));
    }
    files.iter().map(|path| read_entry(path)).collect()
}

fn read_entry(path: &Path) -> Result<CacheEntry, HeadError> {
    let bad = |problem: String| HeadError::input(path, problem);
    let bytes = std::fs::read(path).map_err(|e| HeadError::input(path, e))?;
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let name = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(NAME_KEY).cloned())
        .unwrap_or_default();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let tensor = |name: &str, dtype: Dtype| {
        let view = tensors
            .tensor(name)
            .map_err(|e| bad(format!("`{name}`: {e}")))?;
        if view.dtype() != dtype {
            return Err(bad(format!(
                "`{name}` is {:?}, expected {dtype:?}",
                view.dtype()
            )));
        }
        Ok((view.shape().to_vec(), view.data().to_vec()))
    };
    let (shape, data) = tensor("embedding", Dtype::F16)?;
    let [channels, grid, grid_w] = shape[..] else {
        return Err(bad(format!(
            "`embedding` has shape {shape:?}, expected [C, G, G]"
        )));
    };
    if grid != grid_w {
        return Err(bad(format!(
            "`embedding` has shape {shape:?}, expected a square grid"
        )));
    }
    let embedding = data
        .chunks_exact(2)
        .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    let grid_values = |name: &str| -> Result<Vec<f32>, HeadError> {
        let (shape, data) = tensor(name, Dtype::F32)?;
        if shape != [grid, grid] {
            return Err(bad(format!(
                "`{name}` has shape {shape:?}, expected [{grid}, {grid}]"
            )));
        }
        Ok(data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    Ok(CacheEntry {
        name,
        channels,
        targets: TokenTargets {
            grid,
            anomaly: grid_values("anomaly")?,
            weight: grid_values("weight")?,
        },
        embedding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_as_written_up_to_f16() {
        let dir = tempfile::tempdir().unwrap();
        let entry = CacheEntry {
            name: "frame.png".into(),
            channels: 3,
            targets: TokenTargets {
                grid: 2,
                anomaly: vec![0.0, 0.25, 1.0, 0.5],
                weight: vec![1.0, 1.0, 0.0, 1.0],
            },
            embedding: (0..12).map(|i| i as f32 * 0.1 - 0.5).collect(),
        };
        write_cache_entry(dir.path(), 3, &entry).unwrap();
        let read = read_cache(dir.path()).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].name, "frame.png");
        assert_eq!(read[0].targets, entry.targets);
        for (a, b) in read[0].embedding.iter().zip(&entry.embedding) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn an_empty_or_corrupt_cache_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_cache(dir.path())
                .unwrap_err()
                .to_string()
                .contains("no cached")
        );
        std::fs::write(dir.path().join("00000.safetensors"), b"garbage").unwrap();
        let error = read_cache(dir.path()).unwrap_err().to_string();
        assert!(error.contains("00000.safetensors"), "{error}");
    }
}
