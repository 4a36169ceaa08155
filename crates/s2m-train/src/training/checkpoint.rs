//! A trained generator as bytes of the same safetensors format that
//! `s2m weights convert` writes for detectron2 checkpoints (our tensor
//! names, PyTorch layouts), with the settings its tensor shapes cannot tell
//! (input normalisation, anchor sizes) in the metadata, so `s2m detect`,
//! the pipeline and the browser load it like any converted generator.

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use s2m_core::detector::Detector;

/// The safetensors bytes of `detector`'s weights and settings.
pub fn generator_bytes(detector: &Detector) -> Result<Vec<u8>, String> {
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
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
