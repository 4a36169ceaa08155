//! A trained generator as bytes of the same safetensors format that
//! `s2m weights convert` writes for detectron2 checkpoints (our tensor
//! names, PyTorch layouts), with the settings its tensor shapes cannot tell
//! (input normalisation, anchor sizes, score threshold) in the metadata, so `s2m detect`,
//! the pipeline and the browser load it like any converted generator.
//! The metadata also counts the iterations trained, so that a run can
//! resume from its last checkpoint.

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use s2m_core::detector::Detector;
use s2m_core::weights::{WeightsLoadError, detector_config_of, load_detector};

/// Metadata key of the number of iterations a generator was trained for.
pub const METADATA_TRAINED_ITERATIONS: &str = "s2m.training.iterations";

/// The safetensors bytes of `detector`'s weights and settings, trained for
/// `trained_iterations` iterations.
pub fn generator_bytes(detector: &Detector, trained_iterations: usize) -> Result<Vec<u8>, String> {
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .metadata(METADATA_TRAINED_ITERATIONS, trained_iterations.to_string());
    for (key, value) in detector.config.metadata() {
        store = store.metadata(key, value);
    }
    detector
        .valid()
        .save_into(&mut store)
        .map_err(|e| format!("serialising the generator failed: {e}"))?;
    store
        .get_bytes()
        .map_err(|e| format!("serialising the generator failed: {e}"))
}

/// A generator to go on training: the checkpoint `bytes` loaded on
/// `device` (an autodiff device) with every parameter trainable, and the
/// iterations it was trained for (0 when the file does not say).
pub fn resume(
    bytes: Vec<u8>,
    file: &str,
    device: &Device,
) -> Result<(Detector, usize), WeightsLoadError> {
    let config = detector_config_of(&bytes, file)?;
    let iterations = safetensors::SafeTensors::read_metadata(&bytes)
        .ok()
        .and_then(|(_, header)| {
            header
                .metadata()
                .as_ref()?
                .get(METADATA_TRAINED_ITERATIONS)?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let detector = load_detector(&config, bytes, file, device)?.set_require_grad(true);
    Ok((detector, iterations))
}
