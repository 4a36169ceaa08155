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
use crate::scorer::{DeepWv3Plus, ScorerConfig};

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
    Ok(config.with_metadata(|key| settings.get(key).map(String::as_str)))
}

/// Fills `model` with the weights in `bytes`. Every parameter must be
/// present with the right shape, and every tensor of the file used.
fn load_into<M: Module>(mut model: M, bytes: Vec<u8>, file: &str) -> Result<M, WeightsLoadError> {
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
