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
    safetensors::serialize(views, None).map_err(|e| WeightsError::Safetensors {
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
