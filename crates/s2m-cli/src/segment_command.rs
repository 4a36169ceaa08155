//! `s2m segment IMG...`: the whole S2M pipeline on images:
//! score map (a file, RPL or PEBAL, or feature novelty on SAM's embedding) -> prompt-generator
//! boxes -> SAM masks -> per image `mask.png`, `confidence.png` / `.npy`,
//! `boxes.json` and `overlay.png` in `OUT/<image stem>/`.
//!
//! Folders and globs expand to their images; a bad image is reported and
//! skipped, the others are still processed, and the exit code says whether
//! any failed. Each stage is timed on its own (the command waits for the
//! device after each, so the figures are per stage; `timings.json` in
//! `OUT` has them per image). The scorer and SAM's encoder need only the
//! image and run side by side (`s2m_core::side_by_side`), so their times
//! overlap; `scorer + encoder` is their wall time together.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use s2m_core::pipeline::{ImageEmbedding, Pipeline, PipelineConfig, Segmentation};
use s2m_core::readback::read_f32;
use s2m_core::scorer::novelty::{NoveltyConfig, ReferenceBank, novelty_map};
use s2m_core::scorer::{DeepWv3Plus, EmbeddingHead, energy_scale};
use s2m_core::side_by_side::side_by_side;
use serde::Serialize;

use crate::ModelArgs;
use crate::image_input::{RgbImage, read_rgb};
use crate::input_files::expand;
use crate::model_loading::load_model;
use crate::novelty_reference::{NoveltyReference, TimedEmbedding};
use crate::score_source::{
    ScorerChoice, load_head, load_network, network_score_map, read_score_map, resolve_scorer,
    score_map_file,
};
use crate::segment_outputs::write_all;
use crate::shard::Shard;
use crate::weights_file::load_detector_file;

#[derive(Args, Debug)]
pub struct SegmentArgs {
    /// Images: files, folders (their .png/.jpg/.jpeg/.webp/.bmp files) or
    /// glob patterns.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Where score maps come from: `head` (the default: the anomaly head
    /// on SAM's image embedding, `anomaly_head.safetensors` in
    /// --weights-dir) or `head=WEIGHTS`; `file` (`<stem>.npy|.npz|.pfm|
    /// .tif|.tiff` or `<stem>.score.png` next to each image, or in
    /// --score-maps; the default when --score-map or --score-maps is
    /// given); `rpl=WEIGHTS`, `pebal=WEIGHTS` (energy score, blurred); or
    /// `novelty` (each image against the others, or against --normal
    /// frames; a lone image against itself; see
    /// `s2m_core::scorer::novelty` for where it works and where it does
    /// not).
    #[arg(long)]
    pub scorer: Option<ScorerChoice>,
    /// The score map of a single image (instead of looking next to it).
    #[arg(long, conflicts_with = "score_maps")]
    pub score_map: Option<PathBuf>,
    /// Folder holding the score-map files of `--scorer file`.
    #[arg(long)]
    pub score_maps: Option<PathBuf>,
    /// Frames known to be normal (files, folders, globs): the reference of
    /// `--scorer novelty`.
    #[arg(long, num_args = 1..)]
    pub normal: Vec<PathBuf>,
    /// The prompt generator's weights (.safetensors or detectron2 .pth).
    #[arg(long, default_value = "weights/s2m_generator.f16.safetensors")]
    pub generator: PathBuf,
    /// Resize the score map so its shorter side is this long before the
    /// generator (boxes still come back in image pixels); default: as is.
    #[arg(long, value_parser = parse_generator_size, allow_hyphen_values = true)]
    pub generator_size: Option<usize>,
    /// Output folder: one sub-folder per image.
    #[arg(long)]
    pub out: PathBuf,
    /// Segment only every N-th image from the K-th (of the sorted inputs),
    /// so that N processes or machines share the work.
    #[arg(long)]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Seconds spent in each stage on one image.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageTimes {
    scorer: f64,
    generator: f64,
    sam_encoder: f64,
    sam_decoder: f64,
    /// Wall time of the scorer and SAM's encoder together: they run side
    /// by side (but for novelty, which scores the encoder's output), so
    /// it is less than the sum of their times.
    scorer_and_encoder: f64,
}

#[derive(Serialize)]
struct ImageTimes {
    image: String,
    boxes: usize,
    seconds: StageTimes,
}

#[derive(Serialize)]
struct TimingsJson {
    command: String,
    backend: String,
    images: Vec<ImageTimes>,
}

/// Everything the per-image work needs (`s2m segment` and `s2m eval`).
pub struct Segmenter {
    pipeline: Pipeline,
    network: Option<DeepWv3Plus>,
    head: Option<EmbeddingHead>,
    scorer: ScorerChoice,
    novelty: NoveltyConfig,
    device: Device,
}

pub fn run(args: &SegmentArgs) -> Result<()> {
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let files: Vec<PathBuf> = expand(&args.images)?
        .into_iter()
        .enumerate()
        .filter(|(position, _)| shard.takes(*position))
        .map(|(_, file)| file)
        .collect();
    if files.is_empty() {
        bail!("shard {shard} has no image");
    }
    if let Some(dir) = args.score_maps.as_deref().filter(|d| !d.is_dir()) {
        bail!("--score-maps {} is not a folder", dir.display());
    }
    let scorer = resolve_scorer(
        args.scorer.as_ref(),
        args.score_map.is_some() || args.score_maps.is_some(),
    );
    if args.score_map.is_some() && (files.len() != 1 || scorer != ScorerChoice::File) {
        bail!("--score-map goes with one image and --scorer file");
    }
    let segmenter = Segmenter::load(&args.model, &args.generator, args.generator_size, &scorer)?;
    if !args.normal.is_empty() && scorer != ScorerChoice::Novelty {
        bail!("--normal goes with --scorer novelty");
    }
    let mut novelty_reference = match scorer {
        ScorerChoice::Novelty => {
            let normal = if args.normal.is_empty() {
                Vec::new()
            } else {
                expand(&args.normal)?
            };
            eprintln!("embedding the reference frames for the novelty scorer…");
            Some(NoveltyReference::build(
                &segmenter.pipeline,
                &files,
                &normal,
                &segmenter.device,
            )?)
        }
        _ => None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;

    let progress = ProgressBar::new(files.len() as u64).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} images {msg}")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let mut used_names = HashSet::new();
    let mut timings = Vec::new();
    let mut failures = 0;
    for (index, file) in files.iter().enumerate() {
        progress.set_message(file.display().to_string());
        let novelty = novelty_reference
            .as_mut()
            .map(|r| (r.take_embedding(index), r.bank_for(index)));
        let folder = args.out.join(unique_name(file, &mut used_names));
        let map_file = match (&args.score_map, &segmenter.scorer) {
            (Some(path), _) => Some(Ok(path.clone())),
            (None, ScorerChoice::File) => Some(score_map_file(file, args.score_maps.as_deref())),
            _ => None,
        };
        let outcome = map_file
            .transpose()
            .and_then(|map_file| segmenter.segment(file, map_file.as_deref(), novelty, &folder));
        match outcome {
            Ok((result, seconds)) => timings.push(ImageTimes {
                image: file.display().to_string(),
                boxes: result.detections.len(),
                seconds,
            }),
            Err(error) => {
                failures += 1;
                progress.suspend(|| eprintln!("skipped {}: {error:#}", file.display()));
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    print_summary(&timings);
    let json = TimingsJson {
        command: crate::command_line(),
        backend: args.model.backend.to_string(),
        images: timings,
    };
    std::fs::write(
        args.out.join("timings.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    if failures > 0 {
        bail!("{failures} of {} images failed", files.len());
    }
    println!(
        "wrote {} image folders to {}",
        files.len(),
        args.out.display()
    );
    Ok(())
}

impl Segmenter {
    /// Segments the image at `path` and writes its outputs into `folder`;
    /// `novelty` holds, for the novelty scorer, the image's embedding if
    /// it was computed for the bank, and its bank.
    fn segment(
        &self,
        path: &Path,
        map_file: Option<&Path>,
        novelty: Option<(Option<TimedEmbedding>, Option<ReferenceBank>)>,
        folder: &Path,
    ) -> Result<(Segmentation, StageTimes)> {
        let image = read_rgb(path)?;
        let (result, _, times) = self.compute(path, &image, map_file, novelty)?;
        let map_name = map_file.map_or_else(
            || format!("--scorer {}", self.scorer),
            |p| p.display().to_string(),
        );
        write_all(
            folder,
            &image,
            &result,
            (&path.display().to_string(), &map_name),
        )?;
        Ok((result, times))
    }

    /// The pipeline on `image` (read from `path`): its segmentation, the
    /// score map the generator read, and the time of each stage.
    pub fn compute(
        &self,
        path: &Path,
        image: &RgbImage,
        map_file: Option<&Path>,
        novelty: Option<(Option<TimedEmbedding>, Option<ReferenceBank>)>,
    ) -> Result<(Segmentation, Tensor<2>, StageTimes)> {
        let (h, w) = (image.height, image.width);
        let mut times = StageTimes::default();

        let (kept, bank) = novelty.unzip();
        let (embedded, score_map) = if self.head.is_some() || self.scorer == ScorerChoice::Novelty {
            // The head and novelty score SAM's embedding: the encoder
            // comes first (novelty's may be computed already, for its bank).
            let embedded = match kept.flatten() {
                Some((embedded, seconds)) => {
                    times.sam_encoder = seconds;
                    embedded
                }
                None => {
                    let (embedded, seconds) = timed(|| self.encode(image))?;
                    times.sam_encoder = seconds;
                    embedded
                }
            };
            let (score_map, seconds) = timed(|| {
                let map = match &self.head {
                    Some(head) => head.score_map(&embedded),
                    None => novelty_map(&embedded, bank.flatten().as_ref(), &self.novelty),
                };
                settle(&map)?;
                Ok(map)
            })?;
            times.scorer = seconds;
            times.scorer_and_encoder = times.scorer + times.sam_encoder;
            (embedded, score_map)
        } else {
            // The scorer needs only the image: it runs beside SAM's encoder.
            let start = Instant::now();
            let (score_map, embedded) = side_by_side(
                || timed(|| self.score(path, image, map_file)),
                || timed(|| self.encode(image)),
            );
            times.scorer_and_encoder = start.elapsed().as_secs_f64();
            let (score_map, seconds) = score_map?;
            times.scorer = seconds;
            let (embedded, seconds) = embedded?;
            times.sam_encoder = seconds;
            (embedded, score_map)
        };

        let start = Instant::now();
        // The head's probabilities reach the generator on its energy scale.
        let generator_map = match self.head {
            Some(_) => energy_scale(score_map.clone()),
            None => score_map.clone(),
        };
        let detections = pollster::block_on(self.pipeline.boxes(generator_map, (h, w)))?;
        times.generator = start.elapsed().as_secs_f64();

        let start = Instant::now();
        let confidence = pollster::block_on(self.pipeline.confidence(&embedded, &detections))?;
        times.sam_decoder = start.elapsed().as_secs_f64();

        let result = Segmentation {
            height: h,
            width: w,
            detections,
            confidence,
        };
        Ok((result, score_map, times))
    }
}

impl Segmenter {
    /// SAM (`model`), the prompt generator's weights file and the scorer.
    pub fn load(
        model: &ModelArgs,
        generator: &Path,
        generator_size: Option<usize>,
        scorer: &ScorerChoice,
    ) -> Result<Segmenter> {
        let (sam, device) = load_model(model)?;
        let generator_weights = generator;
        let generator = load_detector_file(generator_weights, &device).with_context(|| {
            format!(
                "cannot load the prompt generator {} (`cargo xtask weights` puts ours there)",
                generator_weights.display()
            )
        })?;
        Ok(Segmenter {
            pipeline: Pipeline {
                generator,
                sam,
                config: PipelineConfig {
                    generator_short_side: generator_size,
                    ..PipelineConfig::default()
                },
            },
            network: load_network(scorer, &device)?,
            head: load_head(scorer, &model.weights_dir, &device)?,
            scorer: scorer.clone(),
            novelty: NoveltyConfig::default(),
            device,
        })
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// SAM's embedding of `image`, computed.
    fn encode(&self, image: &RgbImage) -> Result<ImageEmbedding> {
        let embedded = self.pipeline.embed(image.to_tensor(&self.device))?;
        settle(&embedded.embedding)?;
        Ok(embedded)
    }

    /// The score map of the image at `path` from the network or the map
    /// file, computed.
    fn score(&self, path: &Path, image: &RgbImage, map_file: Option<&Path>) -> Result<Tensor<2>> {
        let map = match (&self.network, map_file) {
            (Some(network), _) => network_score_map(network, image, &self.device),
            (None, Some(map_file)) => read_score_map(map_file, image, &self.device)?,
            (None, None) => bail!("no score map for {}", path.display()),
        };
        settle(&map)?;
        Ok(map)
    }
}

/// `--generator-size`: the score map's shorter side, in pixels.
pub fn parse_generator_size(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|size| (1..=MAX_GENERATOR_SIZE).contains(size))
        .ok_or_else(|| {
            format!("`{text}`: the generator size is a whole number of pixels from 1 to {MAX_GENERATOR_SIZE}")
        })
}

/// The largest `--generator-size` (a shorter side of 8192 pixels).
const MAX_GENERATOR_SIZE: usize = 8192;

/// `stage()` and the seconds it took.
fn timed<T>(stage: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let start = Instant::now();
    let value = stage()?;
    Ok((value, start.elapsed().as_secs_f64()))
}

/// Waits until `tensor` is computed (reads one value), so that each stage
/// is timed on its own on an asynchronous device.
pub fn settle<const D: usize>(tensor: &Tensor<D>) -> Result<()> {
    let first = tensor.clone().flatten::<1>(0, D - 1).slice(0..1);
    pollster::block_on(read_f32(first, "a stage's output"))?;
    Ok(())
}

/// The output folder name of `file`: its stem, numbered when another input
/// had the same stem.
fn unique_name(file: &Path, used: &mut HashSet<String>) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let mut name = stem.clone();
    let mut k = 2;
    while !used.insert(name.clone()) {
        name = format!("{stem}-{k}");
        k += 1;
    }
    name
}

/// Per-stage times: the first image (it includes the device's warm-up:
/// shader compilation on wgpu) and the mean of the others.
fn print_summary(timings: &[ImageTimes]) {
    let Some(first) = timings.first() else {
        return;
    };
    let rest = &timings[1..];
    let mean = |f: fn(&StageTimes) -> f64| {
        rest.iter().map(|t| f(&t.seconds)).sum::<f64>() / rest.len().max(1) as f64
    };
    println!(
        "stage            first image   mean of the other {}",
        rest.len()
    );
    type Stage = (&'static str, fn(&StageTimes) -> f64);
    let stages: [Stage; 5] = [
        ("scorer", |t| t.scorer),
        ("SAM encoder", |t| t.sam_encoder),
        ("scorer + encoder", |t| t.scorer_and_encoder),
        ("generator", |t| t.generator),
        ("SAM decoder", |t| t.sam_decoder),
    ];
    for (name, f) in stages {
        println!(
            "{name:<16} {:>9.3} s   {:>9.3} s",
            f(&first.seconds),
            mean(f)
        );
    }
}
