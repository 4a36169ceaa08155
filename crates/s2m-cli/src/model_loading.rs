//! Loading a model named in the weights manifest, verified, onto a device.

use anyhow::{Context, Result, anyhow};
use burn::tensor::Device;
use s2m_core::device::open_device;
use s2m_core::sam::{Sam, SamConfig};
use s2m_core::weights::load_sam;
use s2m_weights::manifest::MANIFEST_FILE;
use s2m_weights::{Manifest, StorageDType, integrity};

use crate::ModelArgs;

pub fn load_model(args: &ModelArgs) -> Result<(Sam, Device)> {
    let config = SamConfig::from_model_name(&args.model).ok_or_else(|| {
        anyhow!(
            "unknown model `{}` (expected mobile_sam, sam_vit_b, sam_vit_l or sam_vit_h)",
            args.model
        )
    })?;
    let manifest_path = args.weights_dir.join(MANIFEST_FILE);
    let manifest = Manifest::read(&manifest_path).with_context(|| {
        format!(
            "no weights found; run `s2m weights fetch --dir {}` first",
            args.weights_dir.display()
        )
    })?;
    let entry = manifest
        .find(&args.model, StorageDType::F32)
        .ok_or_else(|| {
            anyhow!(
                "{} lists no f32 weights for `{}`",
                manifest_path.display(),
                args.model
            )
        })?;
    let path = args.weights_dir.join(&entry.name);
    let bytes = crate::input_files::read_regular_file(&path)?;
    integrity::verify(&entry.name, &bytes, entry.size, &entry.sha256)?;
    let device = open_device(args.backend)?;
    let sam = load_sam(&config, bytes, &entry.name, &device)?;
    Ok((sam, device))
}
