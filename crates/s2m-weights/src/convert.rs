//! Converting official SAM / MobileSAM checkpoints, detectron2 prompt
//! generator checkpoints and RPL / PEBAL scorer checkpoints into the safetensors
//! files the CLI and the browser load: one f32 and one f16 file per model,
//! tensor names mapped by [`crate::key_map`], each file entered in the
//! manifest with its size and sha256.

use std::path::Path;

use safetensors::{Dtype, tensor::TensorView};

use crate::WeightsError;
use crate::checkpoint::{NamedTensor, read_pytorch_checkpoint};
use crate::integrity::sha256_hex;
use crate::key_map::{ModelVariant, official_to_ours};
use crate::manifest::{MANIFEST_FILE, Manifest, ManifestEntry, StorageDType};

/// Serialises `tensors` as a safetensors file storing `dtype`.
pub fn to_safetensors_bytes(
    tensors: &[NamedTensor],
    dtype: StorageDType,
) -> Result<Vec<u8>, WeightsError> {
    to_safetensors_bytes_with_metadata(tensors, dtype, None)
}

/// The f16 copy of the f32 safetensors file `bytes` (named `file` in
/// messages), its metadata kept (a trained generator's input normalisation
/// and anchors live there): half the download for the browser.
pub fn f16_copy(bytes: &[u8], file: &str) -> Result<Vec<u8>, WeightsError> {
    let unreadable = |e: safetensors::SafeTensorError| WeightsError::Safetensors {
        file: file.to_owned(),
        message: e.to_string(),
    };
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(unreadable)?;
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(unreadable)?;
    let mut tensors = Vec::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(WeightsError::Tensor {
                file: file.to_owned(),
                tensor: name,
                message: format!("expected f32, found {:?}", view.dtype()),
            });
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        tensors.push(NamedTensor {
            name,
            shape: view.shape().to_vec(),
            data,
        });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    to_safetensors_bytes_with_metadata(&tensors, StorageDType::F16, header.metadata().clone())
}

fn to_safetensors_bytes_with_metadata(
    tensors: &[NamedTensor],
    dtype: StorageDType,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>, WeightsError> {
    let buffers: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| match dtype {
            StorageDType::F32 => t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            StorageDType::F16 => t
                .data
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
        })
        .collect();
    let st_dtype = match dtype {
        StorageDType::F32 => Dtype::F32,
        StorageDType::F16 => Dtype::F16,
    };
    let views = tensors
        .iter()
        .zip(&buffers)
        .map(|(t, bytes)| {
            TensorView::new(st_dtype, t.shape.clone(), bytes)
                .map(|view| (t.name.clone(), view))
                .map_err(|e| WeightsError::Tensor {
                    file: "(conversion)".into(),
                    tensor: t.name.clone(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, metadata).map_err(|e| WeightsError::Safetensors {
        file: "(conversion)".into(),
        message: e.to_string(),
    })
}

/// Converts the official checkpoint at `input` into
/// `<out_dir>/<model>.f32.safetensors` and `<model>.f16.safetensors`, and
/// records both in `<out_dir>/manifest.json`. `model` names the model in
/// file names and the manifest; when `None` it is recognised from the
/// checkpoint (MobileSAM, SAM ViT-B/L/H, generator R18/34/50/101, scorer
/// DeepWV3Plus of RPL / PEBAL).
pub fn convert_checkpoint(
    input: &Path,
    out_dir: &Path,
    model: Option<&str>,
) -> Result<Vec<ManifestEntry>, WeightsError> {
    let official = read_pytorch_checkpoint(input, |name| official_to_ours(name).is_some())?;
    let model = match model {
        Some(name) => name.to_owned(),
        None => ModelVariant::detect(
            official
                .iter()
                .map(|t| (t.name.as_str(), t.shape.as_slice())),
        )
        .map(ModelVariant::model_name)
        .ok_or_else(|| WeightsError::Checkpoint {
            file: input.display().to_string(),
            message: "not a SAM ViT-B/L/H, MobileSAM, detectron2 ResNet-FPN or DeepWV3Plus (RPL / PEBAL) checkpoint; name the model explicitly"
                .into(),
        })?,
    };
    let ours: Vec<NamedTensor> = official
        .into_iter()
        .filter_map(|t| official_to_ours(&t.name).map(|name| NamedTensor { name, ..t }))
        .collect();

    std::fs::create_dir_all(out_dir).map_err(|e| WeightsError::io(out_dir, e))?;
    let manifest_path = out_dir.join(MANIFEST_FILE);
    let mut manifest = if manifest_path.exists() {
        Manifest::read(&manifest_path)?
    } else {
        Manifest::default()
    };
    let mut entries = Vec::new();
    for dtype in [StorageDType::F32, StorageDType::F16] {
        let bytes = to_safetensors_bytes(&ours, dtype)?;
        let name = format!("{model}.{}.safetensors", dtype.suffix());
        let path = out_dir.join(&name);
        std::fs::write(&path, &bytes).map_err(|e| WeightsError::io(&path, e))?;
        let entry = ManifestEntry {
            name,
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            dtype,
            model: model.clone(),
        };
        manifest.upsert(entry.clone());
        entries.push(entry);
    }
    manifest.write(&manifest_path)?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_f16_copy_keeps_the_metadata_and_refuses_non_f32_tensors() {
        let tensors = vec![NamedTensor {
            name: "w".into(),
            shape: vec![3],
            data: vec![0.5, -1.0, 2.0],
        }];
        let metadata = std::collections::HashMap::from([("s2m.key".to_owned(), "1,2".to_owned())]);
        let f32_bytes =
            to_safetensors_bytes_with_metadata(&tensors, StorageDType::F32, Some(metadata.clone()))
                .unwrap();
        let copy = f16_copy(&f32_bytes, "g.safetensors").unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&copy).unwrap();
        assert_eq!(header.metadata().as_ref(), Some(&metadata));
        let st = safetensors::SafeTensors::deserialize(&copy).unwrap();
        let w = st.tensor("w").unwrap();
        assert_eq!(w.dtype(), Dtype::F16);
        assert_eq!(w.data().len(), 6);
        let f16_bytes = to_safetensors_bytes(&tensors, StorageDType::F16).unwrap();
        assert!(matches!(
            f16_copy(&f16_bytes, "h.safetensors"),
            Err(WeightsError::Tensor { .. })
        ));
        assert!(f16_copy(b"garbage", "x").is_err());
    }

    #[test]
    fn f16_files_halve_the_payload_and_read_back() {
        let tensors = vec![NamedTensor {
            name: "a.weight".into(),
            shape: vec![2, 3],
            data: vec![0.5, -1.0, 2.0, 3.25, 0.0, 1e-3],
        }];
        let f32_bytes = to_safetensors_bytes(&tensors, StorageDType::F32).unwrap();
        let f16_bytes = to_safetensors_bytes(&tensors, StorageDType::F16).unwrap();
        let st = safetensors::SafeTensors::deserialize(&f16_bytes).unwrap();
        let view = st.tensor("a.weight").unwrap();
        assert_eq!(view.dtype(), Dtype::F16);
        assert_eq!(view.shape(), &[2, 3]);
        let back: Vec<f32> = view
            .data()
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        for (a, b) in back.iter().zip(&tensors[0].data) {
            assert!((a - b).abs() <= 1e-3 * b.abs().max(1e-3), "{a} vs {b}");
        }
        assert!(f16_bytes.len() < f32_bytes.len());
    }
}
