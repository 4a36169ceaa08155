//! `s2m`: the command-line face of s2m-web.
//!
//! Every failure is reported as a message with a non-zero exit code; the
//! commands never panic on bad input.

mod anomaly_head_command;
mod bench;
mod detect_command;
mod eval_command;
mod image_input;
mod input_files;
mod model_loading;
mod novelty_reference;
mod npy_file;
mod outlier_exposure_command;
mod sam_command;
mod score_source;
mod segment_command;
mod segment_outputs;
mod shard;
mod synthesize_command;
mod train_generator_command;
mod training_maps;
mod weights_command;
mod weights_file;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use s2m_core::device::Backend;

#[derive(Parser)]
#[command(
    name = "s2m",
    version,
    about = "Segment every out-of-distribution object (S2M) on Burn"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch and convert model weights.
    Weights {
        #[command(subcommand)]
        action: weights_command::WeightsAction,
    },
    /// Segment Anything with box prompts: writes the union of the masks.
    Sam(sam_command::SamArgs),
    /// The whole pipeline: score map -> boxes -> SAM masks, per image.
    Segment(segment_command::SegmentArgs),
    /// Score methods on a benchmark's frames (S2M's and SMIYC's metrics);
    /// `s2m eval merge` joins the parts of a sharded run.
    Eval(eval_command::EvalCommand),
    /// Prompt generator: boxes around the anomalies of a score map, as JSON.
    Detect(detect_command::DetectArgs),
    /// Synthetic scenes: road pictures with pasted objects and their score maps.
    Synthesize(synthesize_command::SynthesizeArgs),
    /// Outlier exposure: paste objects into Cityscapes, score and cache the maps.
    OutlierExposure(outlier_exposure_command::OutlierExposureArgs),
    /// The anomaly head on SAM's embedding: cache training frames, train it.
    AnomalyHead {
        #[command(subcommand)]
        action: anomaly_head_command::AnomalyHeadCommand,
    },
    /// Train the prompt generator on synthesised or cached outlier-exposure maps.
    TrainGenerator(train_generator_command::TrainGeneratorArgs),
    /// Time the models.
    Bench {
        #[command(subcommand)]
        target: bench::BenchTarget,
    },
}

/// The command line as typed, for the records a command writes (file
/// names that are not UTF-8 are written lossily, never a panic).
pub fn command_line() -> String {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Options shared by the commands that run a model.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Directory holding manifest.json and the converted weights.
    #[arg(long, default_value = "weights")]
    pub weights_dir: PathBuf,
    /// Model name in the manifest: mobile_sam, sam_vit_b, sam_vit_l, sam_vit_h.
    #[arg(long, default_value = "mobile_sam")]
    pub model: String,
    /// Where the model runs: cpu or wgpu.
    #[arg(long, default_value = "cpu")]
    pub backend: Backend,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Weights { action } => weights_command::run(action),
        Command::Sam(args) => sam_command::run(&args),
        Command::Segment(args) => segment_command::run(&args),
        Command::Detect(args) => detect_command::run(&args),
        Command::Eval(command) => eval_command::run(&command),
        Command::Synthesize(args) => synthesize_command::run(&args),
        Command::OutlierExposure(args) => outlier_exposure_command::run(&args),
        Command::AnomalyHead { action } => anomaly_head_command::run(&action),
        Command::TrainGenerator(args) => train_generator_command::run(&args),
        Command::Bench { target } => bench::run(target),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
