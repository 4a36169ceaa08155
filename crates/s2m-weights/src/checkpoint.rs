//! Reading PyTorch checkpoints (`torch.save` zip or legacy pickle files)
//! natively, without Python, through burn's `pytorch-reader`.

use std::path::Path;

use pytorch_reader::{DType, PytorchReader};

use crate::WeightsError;

/// A float tensor read from a checkpoint, as f32 in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Top-level keys under which training scripts commonly nest a state dict.
const NESTED_STATE_DICT_KEYS: &[&str] = &["model", "state_dict"];

/// Reads every tensor of the checkpoint at `path`. A plain state dict is
/// read as is; one nested under `model` or `state_dict` is unwrapped.
/// Float tensors of any width become f32; `keep` decides by name which
/// tensors are read at all, so integer bookkeeping tensors can be skipped.
pub fn read_pytorch_checkpoint(
    path: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<NamedTensor>, WeightsError> {
    let file = path.display().to_string();
    let checkpoint_error = |e: &dyn std::fmt::Display| WeightsError::Checkpoint {
        file: file.clone(),
        message: e.to_string(),
    };
    let mut reader = PytorchReader::new(path).map_err(|e| checkpoint_error(&e))?;
    for key in NESTED_STATE_DICT_KEYS {
        let nested = reader
            .keys()
            .iter()
            .any(|k| k.starts_with(&format!("{key}.")));
        if nested {
            reader =
                PytorchReader::with_top_level_key(path, key).map_err(|e| checkpoint_error(&e))?;
            break;
        }
    }
    if reader.is_empty() {
        return Err(checkpoint_error(&"it holds no tensors"));
    }

    let mut names: Vec<String> = reader.keys().into_iter().filter(|k| keep(k)).collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let tensor = reader
                .get(&name)
                .expect("name comes from the reader's keys");
            let tensor_error = |message: String| WeightsError::Tensor {
                file: file.clone(),
                tensor: name.clone(),
                message,
            };
            let bytes = tensor.read().map_err(|e| tensor_error(e.to_string()))?;
            let data = floats_from_bytes(tensor.dtype(), &bytes)
                .ok_or_else(|| tensor_error(format!("holds {:?}, not floats", tensor.dtype())))?;
            Ok(NamedTensor {
                shape: tensor.shape().to_vec(),
                name,
                data,
            })
        })
        .collect()
}

/// Native-endian float bytes as f32, or `None` for a non-float type.
fn floats_from_bytes(dtype: DType, bytes: &[u8]) -> Option<Vec<f32>> {
    let data = match dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        DType::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        DType::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_ne_bytes([b[0], b[1]]).to_f32())
            .collect(),
        DType::BF16 => bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_ne_bytes([b[0], b[1]]).to_f32())
            .collect(),
        _ => return None,
    };
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_and_double_widths_become_f32() {
        let h: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_ne_bytes())
            .collect();
        assert_eq!(floats_from_bytes(DType::F16, &h).unwrap(), vec![1.5, -2.0]);
        let d: Vec<u8> = [0.25f64].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(floats_from_bytes(DType::F64, &d).unwrap(), vec![0.25]);
        assert!(floats_from_bytes(DType::I64, &[0; 8]).is_none());
    }

    #[test]
    fn a_file_that_is_not_a_checkpoint_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("s2m-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("garbage.pth");
        std::fs::write(&path, b"this is not a pickle").unwrap();
        let err = read_pytorch_checkpoint(&path, |_| true).unwrap_err();
        assert!(matches!(err, WeightsError::Checkpoint { .. }), "{err}");
        assert!(err.to_string().contains("garbage.pth"), "{err}");
    }
}
