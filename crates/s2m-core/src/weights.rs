//! Loading weights converted by `s2m-weights` (safetensors, f32 or f16,
//! tensor names = our module paths, PyTorch layouts) from bytes, so the
//! same code serves files natively and fetched bytes in the browser.

use burn::module::Module;
use burn::store::{
    FloatCastAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
use burn::tensor::{DType, Device};

use crate::detector::{Detector, DetectorConfig};
use crate::sam::{Sam, SamConfig};
use crate::scorer::{DeepWv3Plus, EmbeddingHead, EmbeddingHeadConfig, ScorerConfig};

#[derive(Debug, thiserror::Error)]
pub enum WeightsLoadError {
    #[error("{file}: not a valid safetensors file (truncated or corrupt?): {message}")]
    Unreadable { file: String, message: String },
    #[error(
        "{file}: missing tensor `{tensor}` (and {more} more): wrong model for this configuration?"
    )]
    MissingTensor {
        file: String,
        tensor: String,
        more: usize,
    },
    #[error(
        "{file}: unexpected tensor `{tensor}` (and {more} more): wrong model for this configuration?"
    )]
    UnexpectedTensor {
        file: String,
        tensor: String,
        more: usize,
    },
    #[error(
        "{file}: not prompt generator weights (a detectron2 Faster R-CNN on a ResNet-FPN: \
         `backbone.bottom_up.*`, `proposal_generator.*`, `roi_heads.*`); its first tensor is \
         `{first_tensor}`"
    )]
    NotADetector { file: String, first_tensor: String },
    #[error(
        "{file}: not anomaly scorer weights (a DeepWV3Plus of RPL or PEBAL: `trunk.mod1.*`..\
         `trunk.mod7.*`, `aspp.*`, `bot_fine`, `bot_aspp`, `head.*`); its first tensor is \
         `{first_tensor}`"
    )]
    NotAScorer { file: String, first_tensor: String },
    #[error(
        "{file}: not anomaly head weights (`mean`, `std`, `probe.*`, `reduce.*`, `context1.*`, \
         `context2.*`, `output.*`); its first tensor is `{first_tensor}`"
    )]
    NotAnEmbeddingHead { file: String, first_tensor: String },
    #[error("{file}: {message}")]
    BadMetadata { file: String, message: String },
    #[error("{file}: tensor `{tensor}`: {message}")]
    BadTensor {
        file: String,
        tensor: String,
        message: String,
    },
}

/// Creates the SAM described by `config` on `device` and fills it with
/// the weights in `bytes` (a converted safetensors file named `file` in
/// error messages).
pub fn load_sam(
    config: &SamConfig,
    bytes: Vec<u8>,
    file: &str,
    device: &Device,
) -> Result<Sam, WeightsLoadError> {
    load_into(config.init(device), bytes, file)
}

/// Creates the prompt generator described by `config` on `device` and
/// fills it with the weights in `bytes`.
pub fn load_detector(
    config: &DetectorConfig,
    bytes: Vec<u8>,
    file: &str,
    device: &Device,
) -> Result<Detector, WeightsLoadError> {
    load_into(Detector::new(config.clone(), device), bytes, file)
}

/// Creates the anomaly scorer described by `config` on `device` and fills
/// it with the weights in `bytes`.
pub fn load_scorer(
    config: &ScorerConfig,
    bytes: Vec<u8>,
    file: &str,
    device: &Device,
) -> Result<DeepWv3Plus, WeightsLoadError> {
    load_into(DeepWv3Plus::new(config.clone(), device), bytes, file)
}

/// The anomaly head whose weights are the safetensors `bytes`, on
/// `device`; its sizes come from the tensor shapes.
pub fn load_embedding_head(
    bytes: Vec<u8>,
    file: &str,
    device: &Device,
) -> Result<EmbeddingHead, WeightsLoadError> {
    let (_, header) = read_header(&bytes, file)?;
    let tensors = header.tensors();
    let config = EmbeddingHeadConfig::from_tensor_shapes(
        tensors
            .iter()
            .map(|(name, info)| (name.as_str(), info.shape.as_slice())),
    )
    .ok_or_else(|| WeightsLoadError::NotAnEmbeddingHead {
        file: file.to_owned(),
        first_tensor: tensors.keys().min().cloned().unwrap_or_default(),
    })?;
    if !positive_values(&bytes, "std").unwrap_or(false) {
        return Err(WeightsLoadError::BadTensor {
            file: file.to_owned(),
            tensor: "std".to_owned(),
            message: "every standard deviation must be a positive number".to_owned(),
        });
    }
    load_into(config.init(device), bytes, file)
}

/// Whether every value of the f32 or f16 tensor `name` in the
/// safetensors `bytes` is positive; `None` when it cannot be read.
fn positive_values(bytes: &[u8], name: &str) -> Option<bool> {
    use safetensors::Dtype;
    let tensors = safetensors::SafeTensors::deserialize(bytes).ok()?;
    let view = tensors.tensor(name).ok()?;
    let data = view.data();
    Some(match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .all(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) > 0.0),
        Dtype::F16 => data
            .chunks_exact(2)
            .all(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32() > 0.0),
        _ => return None,
    })
}

/// The configuration of the anomaly scorer whose weights are the
/// safetensors `bytes`, from the tensor shapes (the ASPP dilations, which
/// shapes cannot tell, are the published ones).
pub fn scorer_config_of(bytes: &[u8], file: &str) -> Result<ScorerConfig, WeightsLoadError> {
    let (_, header) = read_header(bytes, file)?;
    let tensors = header.tensors();
    ScorerConfig::from_tensor_shapes(
        tensors
            .iter()
            .map(|(name, info)| (name.as_str(), info.shape.as_slice())),
    )
    .ok_or_else(|| WeightsLoadError::NotAScorer {
        file: file.to_owned(),
        first_tensor: tensors.keys().min().cloned().unwrap_or_default(),
    })
}

/// The header of the safetensors `bytes`.
fn read_header(
    bytes: &[u8],
    file: &str,
) -> Result<(usize, safetensors::tensor::Metadata), WeightsLoadError> {
    safetensors::SafeTensors::read_metadata(bytes).map_err(|e| WeightsLoadError::Unreadable {
        file: file.to_owned(),
        message: e.to_string(),
    })
}

/// The configuration of the prompt generator whose weights are the
/// safetensors `bytes`: architecture from the tensor shapes, input
/// normalisation and anchors from the metadata a trained generator carries
/// (the paper's values otherwise).
pub fn detector_config_of(bytes: &[u8], file: &str) -> Result<DetectorConfig, WeightsLoadError> {
    let (_, header) = read_header(bytes, file)?;
    let tensors = header.tensors();
    let settings = header.metadata().clone().unwrap_or_default();
    let config = DetectorConfig::from_tensor_shapes(
        tensors
            .iter()
            .map(|(name, info)| (name.as_str(), info.shape.as_slice())),
    )
    .ok_or_else(|| WeightsLoadError::NotADetector {
        file: file.to_owned(),
        first_tensor: tensors.keys().min().cloned().unwrap_or_default(),
    })?;
    config
        .with_metadata(|key| settings.get(key).map(String::as_str))
        .map_err(|e| WeightsLoadError::BadMetadata {
            file: file.to_owned(),
            message: e.to_string(),
        })
}

/// The first floating-point tensor of the safetensors `bytes` (by name)
/// holding NaN or infinite values: its name, how many, and its size.
fn first_non_finite_tensor(
    bytes: &[u8],
    file: &str,
) -> Result<Option<(String, usize, usize)>, WeightsLoadError> {
    use safetensors::Dtype;
    let tensors =
        safetensors::SafeTensors::deserialize(bytes).map_err(|e| WeightsLoadError::Unreadable {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
    let mut names = tensors.names();
    names.sort();
    for name in names {
        let Ok(view) = tensors.tensor(name) else {
            continue;
        };
        let data = view.data();
        let (width, non_finite): (usize, fn(&[u8]) -> bool) = match view.dtype() {
            Dtype::F32 => (4, |b| {
                !f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite()
            }),
            Dtype::F64 => (8, |b| {
                !f64::from_le_bytes(b.try_into().unwrap()).is_finite()
            }),
            // All exponent bits set: infinite or NaN.
            Dtype::F16 => (2, |b| u16::from_le_bytes([b[0], b[1]]) & 0x7c00 == 0x7c00),
            Dtype::BF16 => (2, |b| u16::from_le_bytes([b[0], b[1]]) & 0x7f80 == 0x7f80),
            _ => continue,
        };
        let count = data.chunks_exact(width).filter(|b| non_finite(b)).count();
        if count > 0 {
            return Ok(Some((name.to_string(), count, data.len() / width)));
        }
    }
    Ok(None)
}

/// Fills `model` with the weights in `bytes`. Every value must be finite,
/// every parameter present with the right shape, and every tensor of the
/// file used.
fn load_into<M: Module>(mut model: M, bytes: Vec<u8>, file: &str) -> Result<M, WeightsLoadError> {
    if let Some((tensor, count, total)) = first_non_finite_tensor(&bytes, file)? {
        return Err(WeightsLoadError::BadTensor {
            file: file.to_owned(),
            tensor,
            message: format!(
                "{count} of its {total} values are NaN or infinite (corrupt or diverged weights)"
            ),
        });
    }
    let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32));
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(adapter)
        .skip_enum_variants(true)
        .allow_partial(true)
        .validate(false);
    let result = model
        .load_from(&mut store)
        .map_err(|e| WeightsLoadError::Unreadable {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
    if let Some(error) = result.errors.first() {
        let (tensor, message) = match error {
            burn::store::ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => (
                path.clone(),
                format!("shape {:?}, expected {:?}", found, expected),
            ),
            other => (String::new(), other.to_string()),
        };
        return Err(WeightsLoadError::BadTensor {
            file: file.to_owned(),
            tensor,
            message,
        });
    }
    if let Some((tensor, _)) = result.missing.first() {
        return Err(WeightsLoadError::MissingTensor {
            file: file.to_owned(),
            tensor: tensor.clone(),
            more: result.missing.len() - 1,
        });
    }
    if let Some(tensor) = result.unused.first() {
        return Err(WeightsLoadError::UnexpectedTensor {
            file: file.to_owned(),
            tensor: tensor.clone(),
            more: result.unused.len() - 1,
        });
    }
    Ok(model.no_grad())
}

#[cfg(test)]
mod tests {
    use safetensors::tensor::{Dtype, TensorView};

    use super::*;

    fn file(tensors: &[(&str, Dtype, Vec<u8>)]) -> Vec<u8> {
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .map(|(name, dtype, data)| {
                let n = data.len() * 8 / dtype.bitsize();
                (
                    (*name).to_string(),
                    TensorView::new(*dtype, vec![n], data).unwrap(),
                )
            })
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    #[test]
    fn non_finite_values_are_found_in_every_float_type() {
        let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let clean = file(&[
            ("a", Dtype::F32, f32s(&[1.0, -2.0])),
            ("b", Dtype::I64, vec![0xff; 16]),
        ]);
        assert_eq!(first_non_finite_tensor(&clean, "x").unwrap(), None);
        let nan = file(&[
            ("a", Dtype::F32, f32s(&[1.0, -2.0])),
            (
                "b.weight",
                Dtype::F32,
                f32s(&[f32::NAN, 0.5, f32::INFINITY]),
            ),
        ]);
        assert_eq!(
            first_non_finite_tensor(&nan, "x").unwrap(),
            Some(("b.weight".to_string(), 2, 3))
        );
        // f16: 0x3c00 = 1.0, 0x7c00 = inf, 0xfe00 = NaN; bf16: 0x7f80 = inf.
        let halves = file(&[
            (
                "h",
                Dtype::F16,
                [0x3c00u16, 0x7c00, 0xfe00]
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            ),
            (
                "z",
                Dtype::BF16,
                [0x3f80u16, 0x7f80]
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            ),
        ]);
        assert_eq!(
            first_non_finite_tensor(&halves, "x").unwrap(),
            Some(("h".to_string(), 2, 3))
        );
    }
}
