//! `s2m bench`: timings that compare two things in one run (backends, or
//! our kernel against tensor ops on the same adapter), so their ratio is
//! meaningful on whatever machine runs them.

mod detector;
mod roi_align;
mod sam;

use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use s2m_core::device::Backend;

use crate::ModelArgs;

#[derive(Subcommand)]
pub enum BenchTarget {
    /// Time the image encoder and the mask decoder (one box) per image.
    Sam {
        #[command(flatten)]
        model: ModelArgs,
        /// Backends to compare, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
        backends: Vec<Backend>,
        /// Timed runs per backend (after one warm-up run).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Multi-level ROI-align on one wgpu adapter: our WGSL kernel against
    /// the tensor-op implementation (1000 boxes x 256 channels over P2..P5
    /// of a 1024x2048 map by default).
    RoiAlign(roi_align::RoiAlignBenchArgs),
    /// The whole prompt generator per score map on each backend.
    Detector(detector::DetectorBenchArgs),
}

pub fn run(target: BenchTarget) -> Result<()> {
    match target {
        BenchTarget::Sam {
            model,
            backends,
            runs,
        } => sam::run(model, backends, runs),
        BenchTarget::RoiAlign(args) => roi_align::run(&args),
        BenchTarget::Detector(args) => detector::run(&args),
    }
}

fn mean_ms(times: &[Duration]) -> f64 {
    times.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / times.len().max(1) as f64
}

/// A deterministic pseudo-random value in [0, 1) (splitmix64 of `seed`).
fn unit_random(seed: u64) -> f32 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 24) as f32
}
