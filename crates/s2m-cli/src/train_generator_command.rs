//! `s2m train-generator`: trains the prompt generator on synthesised
//! energy-score maps, or on the outlier-exposure maps `s2m
//! outlier-exposure` cached (`--oe-cache`), with a progress bar
//! (losses, maps per second), calibrates the score threshold on
//! object-free maps of their own seeds, validates on held-out maps, and
//! writes the weights (`generator.safetensors`, the format `s2m detect` reads, and
//! its f16 copy `generator.f16.safetensors`) and the validation figures
//! (`validation.json`) to the output folder.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use s2m_core::detector::{Detector, DetectorConfig};
use s2m_core::device::{Backend, open_device};
use s2m_train::synthesis::{SynthesisConfig, ValueRangeConfig};
use s2m_train::training::calibration::calibrate_score_threshold;
use s2m_train::training::checkpoint::{generator_bytes, resume};
use s2m_train::training::trainer::VALIDATION_MIN_SIDE;
use s2m_train::training::{TrainingConfig, ValidationMetrics, validate};
use s2m_weights::convert::f16_copy;
use serde::{Deserialize, Serialize};

use crate::training_maps::TrainingMaps;

/// Iterations between progress lines when there is no terminal to draw on.
const LOG_EVERY: usize = 10;

#[derive(Args, Debug)]
pub struct TrainGeneratorArgs {
    /// Output folder for the weights and the validation figures.
    #[arg(long)]
    pub out: PathBuf,
    /// Training iterations.
    #[arg(long, default_value_t = 3000)]
    pub iterations: usize,
    /// Score maps per iteration.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Base learning rate (after warm-up).
    #[arg(long, default_value_t = 0.01)]
    pub learning_rate: f64,
    /// Iterations of linear warm-up.
    #[arg(long, default_value_t = 200)]
    pub warmup: usize,
    /// Iterations after which the learning rate drops tenfold, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub decay_at: Vec<usize>,
    /// Train on the outlier-exposure maps in this folder (the
    /// `<cache>/<scorer>-<key>` folder `s2m outlier-exposure` names)
    /// instead of synthesised maps: shuffled epochs over all but the last
    /// --validation-maps maps, which validate; the generator's input is
    /// normalised by the maps' mean and standard deviation.
    #[arg(long)]
    pub oe_cache: Option<PathBuf>,
    /// Train on maps of this synthesis config instead of the default one: a
    /// JSON file of any `SynthesisConfig` fields, the rest default (e.g.
    /// `{"completeness": {"faint_probability": 0.3}}` for more faint
    /// objects). Validation and calibration keep the default maps, so
    /// figures stay comparable; --height, --width and the energy value
    /// range apply to both.
    #[arg(long, conflicts_with = "oe_cache")]
    pub training_synthesis: Option<PathBuf>,
    /// Height of the synthesised maps.
    #[arg(long, default_value_t = 256)]
    pub height: usize,
    /// Width of the synthesised maps.
    #[arg(long, default_value_t = 512)]
    pub width: usize,
    /// Validate (and save) every this many iterations, and at the end.
    #[arg(long, default_value_t = 500)]
    pub validate_every: usize,
    /// Held-out maps per validation (with --oe-cache: the last maps of the
    /// cache).
    #[arg(long, default_value_t = 100)]
    pub validation_maps: usize,
    /// Synthesised maps (seeds of their own) on which each checkpoint's
    /// score threshold is calibrated; 0 keeps detectron2's 0.05. Cached
    /// outlier-exposure maps all hold an object, so there it does nothing.
    #[arg(long, default_value_t = 300)]
    pub calibration_maps: usize,
    /// Share of the object-free calibration maps the calibrated threshold
    /// leaves without any box.
    #[arg(long, default_value_t = 0.97)]
    pub clean_share: f32,
    /// Where training runs: cpu or wgpu.
    #[arg(long, default_value = "cpu")]
    pub backend: Backend,
    /// Seed of the training maps and of sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Shorter sides each training map is resized to (one drawn per map),
    /// comma separated; none keeps the maps' size.
    #[arg(long, value_delimiter = ',')]
    pub min_sizes: Vec<usize>,
    /// The longer side's limit after resizing.
    #[arg(long, default_value_t = 1333)]
    pub max_size: usize,
    /// Go on from this checkpoint (a `generator.safetensors` this command
    /// wrote), at the iteration it was saved.
    #[arg(long, conflicts_with = "start_from")]
    pub resume: Option<PathBuf>,
    /// Start from this generator's weights (e.g. the shipped one) at
    /// iteration 0: fine-tuning. Its architecture must be the run's; the
    /// run's input normalisation replaces its own; its score threshold
    /// stays unless the run calibrates one.
    #[arg(long)]
    pub start_from: Option<PathBuf>,
    /// The generator's input normalisation MEAN,STD for --oe-cache maps
    /// (default: the training maps' own mean and standard deviation).
    #[arg(long, value_parser = parse_normalisation, requires = "oe_cache")]
    pub input_normalisation: Option<(f32, f32)>,
}

fn parse_normalisation(text: &str) -> Result<(f32, f32), String> {
    let parsed = text
        .split_once(',')
        .and_then(|(m, s)| Some((m.trim().parse::<f32>().ok()?, s.trim().parse::<f32>().ok()?)));
    match parsed {
        Some((mean, std)) if mean.is_finite() && std.is_finite() && std > 0.0 => Ok((mean, std)),
        _ => Err(format!("`{text}`: expected MEAN,STD (finite, STD > 0)")),
    }
}

/// `validation.json`: the commands (more than one when a run resumed), and
/// the figures of each validation.
#[derive(Serialize, Deserialize)]
struct ValidationLog {
    commands: Vec<String>,
    validations: Vec<ValidationEntry>,
}

#[derive(Serialize, Deserialize)]
struct ValidationEntry {
    iteration: usize,
    seconds: f64,
    /// The score threshold the figures (and the saved weights) use; logs
    /// written before calibration existed used detectron2's.
    #[serde(default = "uncalibrated_threshold")]
    score_threshold: f32,
    maps: usize,
    objects: usize,
    recall_at_iou_50: f32,
    precision: f32,
    empty_maps: usize,
    empty_maps_without_boxes: f32,
    ap50: f32,
}

/// `config` at the run's map size, with energy-score values only: the
/// generator's input normalisation (`small_generator_config`) is that of
/// an energy scorer.
fn run_maps(args: &TrainGeneratorArgs, config: SynthesisConfig) -> SynthesisConfig {
    SynthesisConfig {
        height: args.height,
        width: args.width,
        value_range: ValueRangeConfig {
            energy_probability: 1.0,
            ..config.value_range
        },
        ..config
    }
}

/// A `SynthesisConfig` from JSON (missing fields default).
fn read_synthesis_config(path: &std::path::Path) -> Result<SynthesisConfig> {
    let json = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&json)
        .with_context(|| format!("{}: not a synthesis config", path.display()))
}

fn uncalibrated_threshold() -> f32 {
    DetectorConfig::default().test_score_threshold
}

pub fn run(args: &TrainGeneratorArgs) -> Result<()> {
    let training = TrainingConfig {
        images_per_batch: args.batch,
        base_learning_rate: args.learning_rate,
        warmup_iterations: args.warmup,
        decay_steps: args.decay_at.clone(),
        max_iterations: args.iterations,
        min_sizes: args.min_sizes.clone(),
        max_size: args.max_size,
        ..TrainingConfig::default()
    };
    let run = match &args.oe_cache {
        Some(dir) => TrainingMaps::cached(
            dir,
            training,
            args.seed,
            args.validation_maps,
            args.input_normalisation,
        )?,
        None => {
            let reference = run_maps(args, SynthesisConfig::default());
            let training_synthesis = match &args.training_synthesis {
                Some(path) => {
                    let config = run_maps(args, read_synthesis_config(path)?);
                    config.validate().with_context(|| {
                        format!("{}: unusable synthesis config", path.display())
                    })?;
                    config
                }
                None => reference.clone(),
            };
            TrainingMaps::synthetic(
                training,
                training_synthesis,
                reference,
                args.seed,
                args.validation_maps,
            )
        }
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let device = open_device(args.backend)?.autodiff();
    if let Some(maps) = run.training_maps() {
        println!(
            "training on {maps} cached maps ({:.1} epochs), validating on {} held out",
            (args.iterations * args.batch) as f64 / maps as f64,
            args.validation_maps
        );
    }
    let (detector, start_iteration) = match &args.resume {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let (detector, iterations) = resume(bytes, &path.display().to_string(), &device)?;
            let calibrated_aside = DetectorConfig {
                test_score_threshold: run.detector().test_score_threshold,
                ..detector.config.clone()
            };
            if &calibrated_aside != run.detector() {
                anyhow::bail!(
                    "{} is not a generator of the architecture and input normalisation \
                     this run trains",
                    path.display()
                );
            }
            (detector, iterations)
        }
        None => match &args.start_from {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let (mut detector, _) = resume(bytes, &path.display().to_string(), &device)?;
                // The run's input normalisation and anchors; the source's
                // calibrated score threshold stays until calibration.
                let adopted = DetectorConfig {
                    pixel_mean: run.detector().pixel_mean,
                    pixel_std: run.detector().pixel_std,
                    anchor_sizes: run.detector().anchor_sizes,
                    ..detector.config.clone()
                };
                let comparable = DetectorConfig {
                    test_score_threshold: run.detector().test_score_threshold,
                    ..adopted.clone()
                };
                if &comparable != run.detector() {
                    anyhow::bail!(
                        "{} is not a generator of the architecture this run trains",
                        path.display()
                    );
                }
                detector.config = adopted;
                (detector, 0)
            }
            None => (Detector::new(run.detector().clone(), &device), 0),
        },
    };
    let progress = ProgressBar::new(args.iterations as u64).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} it, {per_sec}, eta {eta} | {msg}",
        )
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    // The score threshold saved when the run calibrates none: a
    // fine-tuned generator keeps its source's.
    let uncalibrated = match &args.start_from {
        Some(_) => detector.config.test_score_threshold,
        None => run.detector().test_score_threshold,
    };
    // A resumed run goes on with the log of the run it resumes, if any.
    let mut log = std::fs::read(args.out.join("validation.json"))
        .ok()
        .filter(|_| args.resume.is_some())
        .and_then(|json| serde_json::from_slice::<ValidationLog>(&json).ok())
        .unwrap_or(ValidationLog {
            commands: Vec::new(),
            validations: Vec::new(),
        });
    log.validations.retain(|v| v.iteration <= start_iteration);
    log.commands.push(crate::command_line());
    progress.set_position(start_iteration as u64);
    progress.reset_eta();
    let start = Instant::now();
    let mut failure: Option<anyhow::Error> = None;
    let mut checkpoint = |iteration: usize,
                          detector: &Detector|
     -> Result<(ValidationMetrics, f32)> {
        let mut shipped = detector.clone();
        shipped.config = DetectorConfig {
            test_score_threshold: uncalibrated,
            ..run.detector().clone()
        };
        if args.calibration_maps > 0
            && let Some(maps) = run.calibration_results(detector, args.calibration_maps, &device)?
            && let Some(threshold) = calibrate_score_threshold(
                &maps,
                args.clean_share,
                shipped.config.test_score_threshold,
            )
        {
            shipped.config.test_score_threshold = threshold;
        }
        let threshold = shipped.config.test_score_threshold;
        let results: Vec<_> = run
            .validation_results(detector, &device)?
            .iter()
            .map(|map| map.above(threshold))
            .collect();
        let metrics = validate(&results, VALIDATION_MIN_SIDE);
        log.validations.push(ValidationEntry {
            iteration,
            seconds: start.elapsed().as_secs_f64(),
            score_threshold: threshold,
            maps: metrics.maps,
            objects: metrics.objects,
            recall_at_iou_50: metrics.recall,
            precision: metrics.precision,
            empty_maps: metrics.empty_maps,
            empty_maps_without_boxes: metrics.empty_maps_without_boxes,
            ap50: metrics.ap50,
        });
        // f32 to resume from, f16 to ship (same metadata).
        let bytes = generator_bytes(&shipped, iteration).map_err(anyhow::Error::msg)?;
        let f16 = f16_copy(&bytes, "generator.safetensors")?;
        for (name, bytes) in [
            ("generator.safetensors", bytes),
            ("generator.f16.safetensors", f16),
        ] {
            let path = args.out.join(name);
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let json = serde_json::to_string_pretty(&log)?;
        std::fs::write(args.out.join("validation.json"), json + "\n")?;
        Ok((metrics, threshold))
    };
    let trained = run.train(detector, start_iteration, |iteration, losses, detector| {
        let message = format!(
            "loss {:.3} (rpn {:.3}+{:.3}, roi {:.3}+{:.3})",
            losses.total(),
            losses.rpn_objectness,
            losses.rpn_box,
            losses.roi_class,
            losses.roi_box
        );
        progress.set_position(iteration as u64 + 1);
        if progress.is_hidden() && (iteration + 1) % LOG_EVERY == 0 {
            // No terminal (a log file): a line now and then instead of the bar.
            println!(
                "iteration {}/{}, {:.1} s/it: {message}",
                iteration + 1,
                args.iterations,
                start.elapsed().as_secs_f64() / (iteration + 1 - start_iteration) as f64
            );
        }
        progress.set_message(message);
        let due = (iteration + 1) % args.validate_every.max(1) == 0;
        if due && iteration + 1 < args.iterations {
            match checkpoint(iteration + 1, detector) {
                Ok((m, threshold)) => {
                    let line = format!(
                        "iteration {}: recall {:.3}, precision {:.3}, AP50 {:.3}, clean empty \
                         maps {:.3} (score threshold {:.3})",
                        iteration + 1,
                        m.recall,
                        m.precision,
                        m.ap50,
                        m.empty_maps_without_boxes,
                        threshold
                    );
                    // A hidden bar (output to a file) prints nothing itself.
                    if progress.is_hidden() {
                        println!("{line}");
                    } else {
                        progress.println(line);
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    return true;
                }
            }
        }
        !losses.total().is_finite()
    })?;
    progress.finish();
    if let Some(error) = failure {
        return Err(error);
    }
    let (metrics, threshold) = checkpoint(args.iterations, &trained)?;
    println!(
        "{} iterations in {:.0} s; score threshold {:.3}; on {} held-out maps ({} objects >= \
         32x32 px): recall {:.3}, precision {:.3}, AP50 {:.3}, object-free maps without a box \
         {:.3}; wrote {}",
        args.iterations,
        start.elapsed().as_secs_f64(),
        threshold,
        metrics.maps,
        metrics.objects,
        metrics.recall,
        metrics.precision,
        metrics.ap50,
        metrics.empty_maps_without_boxes,
        args.out.display()
    );
    Ok(())
}
