//! `s2m detect`: the prompt generator on a score map, its boxes written as
//! JSON (pixel coordinates of the map, by decreasing score).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use s2m_core::device::{Backend, open_device};
use s2m_core::result_files::detections_json;
use s2m_core::score_map_file::ScoreMap;

use crate::weights_file::load_detector_file;

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// The anomaly score map: .npy or .npz (2-D float), 16-bit grayscale
    /// PNG, float32 TIFF or grayscale PFM.
    #[arg(long)]
    pub score_map: PathBuf,
    /// The prompt generator: a .safetensors file from `s2m weights convert`
    /// or a detectron2 .pth checkpoint.
    #[arg(long)]
    pub weights: PathBuf,
    /// Output JSON file.
    #[arg(long)]
    pub out: PathBuf,
    /// Where the model runs: cpu or wgpu.
    #[arg(long, default_value = "cpu")]
    pub backend: Backend,
}

pub fn run(args: &DetectArgs) -> Result<()> {
    let map_file = args.score_map.display().to_string();
    let bytes = crate::input_files::read_regular_file(&args.score_map)
        .with_context(|| format!("cannot read score map {map_file}"))?;
    let map = ScoreMap::from_bytes(&bytes, &map_file)?;
    let (height, width) = (map.height, map.width);
    let device = open_device(args.backend)?;
    let detector = load_detector_file(&args.weights, &device)?;
    let mut detections = pollster::block_on(detector.detect(map.into_tensor(&device)))?;
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));

    let json = detections_json(None, &map_file, (height, width), &detections);
    std::fs::write(&args.out, json)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let best = detections
        .first()
        .map_or(String::new(), |d| format!(", best score {:.3}", d.score));
    println!(
        "{} detections on the {width}x{height} score map{best}; wrote {}",
        detections.len(),
        args.out.display()
    );
    Ok(())
}
