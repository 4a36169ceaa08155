//! `s2m anomaly-head prepare|train`: the anomaly head on SAM's image
//! embedding, trained by outlier exposure on real road frames
//! (s2m-train's `anomaly_head`).
//!
//! `prepare` builds the training frames and caches their embeddings:
//! every inlier frame (images + semantic class maps, e.g. CamVid's
//! `train` + `trainannot`) gets 1..=`--max-objects` outliers pasted on its
//! ground, drawn from the objects cut out of the labelled frames (e.g. the
//! animals of CamVid-OOD's training half) and from procedural objects; the
//! labelled frames are cached as they are too. Each frame is embedded by
//! SAM once and written to `OUT/<index>.safetensors` with its token
//! targets, and as `OUT/frames/<index>.jpg` + `.labels.png` (0 / 1 / 255)
//! for inspection and for training the prompt generator on the head's
//! maps. An interrupted run resumes: frames already cached are skipped.
//!
//! `train` fits the head on such a cache and writes a weights file the
//! scorer loads (`--scorer head=FILE`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use s2m_core::pipeline::ImageEmbedding;
use s2m_core::sam::Sam;
use s2m_core::sam::transforms::ImageFrame;
use s2m_core::scorer::{EmbeddingHead, energy_of};
use s2m_core::weights::load_embedding_head;
use s2m_eval::datasets::{Dataset, Layout};
use s2m_eval::ground_truth::VoidPixels;
use s2m_eval::score_histogram::ScoreHistogram;
use s2m_train::anomaly_head::{
    CacheEntry, HeadTrainingConfig, LabelledFrame, PasteConfig, RoadFrame, TokenTargets, VOID,
    cut_objects, head_bytes, object_boxes, paste_on_road, procedural_object, read_cache,
    read_road_frames, train_head, write_cache_entry,
};
use s2m_train::outlier_exposure::{OeObject, write_cached_example};
use s2m_train::training::step::TrainingExample;

use crate::ModelArgs;
use crate::model_loading::load_model;

#[derive(clap::Subcommand, Debug)]
pub enum AnomalyHeadCommand {
    /// Paste outliers on inlier road frames and cache SAM's embeddings.
    Prepare(PrepareArgs),
    /// Train the head on a cache of embeddings.
    Train(TrainArgs),
    /// The head's score maps of a cache's frames, with the boxes of their
    /// objects: training maps for the prompt generator
    /// (`s2m train-generator --oe-cache OUT`).
    Maps(MapsArgs),
    /// Pixel AP, FPR at 95 % TPR and AUROC of heads on a cache's frames
    /// (void excluded), without running the encoder again: a quick check
    /// while developing; `s2m eval` gives the full report.
    Score(ScoreArgs),
}

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// A cache folder written by `prepare`.
    #[arg(long)]
    pub cache: PathBuf,
    /// Heads to score; repeatable.
    #[arg(long = "head", required = true)]
    pub heads: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct MapsArgs {
    /// A cache folder written by `prepare`.
    #[arg(long)]
    pub cache: PathBuf,
    /// The head's weights.
    #[arg(long)]
    pub head: PathBuf,
    /// Objects smaller than this many pixels get no box.
    #[arg(long, default_value_t = 64)]
    pub min_object_pixels: usize,
    /// The folder of maps (`sample_<i>.npy` + `.json`).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct PrepareArgs {
    /// Inlier frames as IMAGES_DIR=CLASSES_DIR (class maps of the same
    /// file names); repeatable.
    #[arg(long = "inliers", value_parser = parse_pair)]
    pub inliers: Vec<(PathBuf, PathBuf)>,
    /// Classes objects may stand on (CamVid: road 3, pavement 4).
    #[arg(long, value_delimiter = ',', default_value = "3,4")]
    pub ground_classes: Vec<u8>,
    /// The inlier class maps' void class (CamVid: 11).
    #[arg(long, default_value_t = 11)]
    pub void_class: u8,
    /// A dataset with real anomaly labels (any `s2m eval` layout, e.g.
    /// CamVid-OOD): its frames are cached as they are and its anomalies
    /// cut out and pasted.
    #[arg(long)]
    pub labelled: Option<PathBuf>,
    /// Only these frames of `--labelled` (one name a line).
    #[arg(long)]
    pub labelled_list: Option<PathBuf>,
    /// Objects smaller than this many pixels are not cut out.
    #[arg(long, default_value_t = 200)]
    pub min_object_pixels: usize,
    /// At most this many objects on each inlier frame (at least one).
    #[arg(long, default_value_t = 3)]
    pub max_objects: usize,
    /// Chance that an object is procedural rather than a real cut-out.
    #[arg(long, default_value_t = 0.5)]
    pub procedural_fraction: f64,
    /// Frames pasted from each inlier frame.
    #[arg(long, default_value_t = 1)]
    pub copies: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The cache folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Cache folders written by `prepare`; repeatable.
    #[arg(long = "cache", required = true)]
    pub caches: Vec<PathBuf>,
    /// The weights file to write (safetensors).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = HeadTrainingConfig::default().epochs)]
    pub epochs: usize,
    #[arg(long, default_value_t = HeadTrainingConfig::default().hidden_channels)]
    pub hidden: usize,
    #[arg(long, default_value_t = HeadTrainingConfig::default().learning_rate)]
    pub learning_rate: f64,
    #[arg(long, default_value_t = HeadTrainingConfig::default().batch_frames)]
    pub batch_frames: usize,
    /// Every N-th cached frame is held out and scored after each epoch.
    #[arg(long, default_value_t = HeadTrainingConfig::default().held_out_every)]
    pub held_out_every: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train only the linear probe (the baseline the head must beat).
    #[arg(long)]
    pub probe_only: bool,
}

fn parse_pair(text: &str) -> Result<(PathBuf, PathBuf), String> {
    match text.split_once('=') {
        Some((images, classes)) if !images.is_empty() && !classes.is_empty() => {
            Ok((images.into(), classes.into()))
        }
        _ => Err(format!("`{text}`: expected IMAGES_DIR=CLASSES_DIR")),
    }
}

pub fn run(command: &AnomalyHeadCommand) -> Result<()> {
    match command {
        AnomalyHeadCommand::Prepare(args) => prepare(args),
        AnomalyHeadCommand::Train(args) => train(args),
        AnomalyHeadCommand::Maps(args) => maps(args),
        AnomalyHeadCommand::Score(args) => score(args),
    }
}

/// The frames of `args.labelled`, with labels 0 / 1 / 255.
fn labelled_frames(args: &PrepareArgs) -> Result<Vec<LabelledFrame>> {
    let Some(root) = &args.labelled else {
        return Ok(Vec::new());
    };
    let mut dataset = Dataset::open(root, Layout::Auto)?;
    if let Some(list) = &args.labelled_list {
        let text = std::fs::read_to_string(list)
            .with_context(|| format!("cannot read {}", list.display()))?;
        dataset.keep_listed(&text)?;
    }
    dataset
        .samples
        .iter()
        .map(|sample| {
            let truth = sample.read_labels()?;
            let image = image::open(&sample.image)
                .with_context(|| format!("cannot read {}", sample.image.display()))?
                .into_rgb8();
            let labels =
                image::GrayImage::from_raw(image.width(), image.height(), truth.into_labels())
                    .with_context(|| {
                        format!("{}: labels of another size than the image", sample.name)
                    })?;
            Ok(LabelledFrame {
                name: sample.name.clone(),
                image,
                labels,
            })
        })
        .collect()
}

fn prepare(args: &PrepareArgs) -> Result<()> {
    if args.max_objects == 0 {
        bail!("--max-objects must be at least 1");
    }
    if !(0.0..=1.0).contains(&args.procedural_fraction) {
        bail!("--procedural-fraction must be within 0..=1");
    }
    let mut inliers: Vec<RoadFrame> = Vec::new();
    for (images, classes) in &args.inliers {
        inliers.extend(read_road_frames(images, classes)?);
    }
    let labelled = labelled_frames(args)?;
    if inliers.is_empty() && labelled.is_empty() {
        bail!("no frames: give --inliers IMAGES=CLASSES and/or --labelled DATASET");
    }
    let cut_outs: Vec<OeObject> = labelled
        .iter()
        .flat_map(|frame| cut_objects(frame, args.min_object_pixels))
        .collect();
    if cut_outs.is_empty() && args.procedural_fraction < 1.0 {
        eprintln!("no labelled objects: every pasted object is procedural");
    }
    eprintln!(
        "{} inlier frames x {} copies, {} labelled frames, {} cut-out objects",
        inliers.len(),
        args.copies,
        labelled.len(),
        cut_outs.len()
    );
    let (sam, device) = load_model(&args.model)?;
    std::fs::create_dir_all(args.out.join("frames"))
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let config = PasteConfig {
        ground_classes: args.ground_classes.clone(),
        void_class: Some(args.void_class),
        ..PasteConfig::camvid()
    };
    let textures: Vec<&image::RgbImage> = inliers.iter().map(|f| &f.image).collect();

    let total = inliers.len() * args.copies + labelled.len();
    let progress = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} frames, ETA {eta}")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    for index in 0..total {
        progress.inc(1);
        let cached = args.out.join(format!("{index:05}.safetensors"));
        if cached.exists() {
            continue;
        }
        // Each frame draws from its own stream: a resumed run makes the
        // same frames.
        let mut rng = ChaCha8Rng::seed_from_u64(
            args.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let frame = if index < inliers.len() * args.copies {
            let inlier = &inliers[index % inliers.len()];
            let count = rng.random_range(1..=args.max_objects);
            let objects: Vec<OeObject> = (0..count)
                .map(|_| match cut_outs.choose(&mut rng) {
                    Some(object) if !rng.random_bool(args.procedural_fraction) => object.clone(),
                    _ => procedural_object(&mut rng, &textures),
                })
                .collect();
            let refs: Vec<&OeObject> = objects.iter().collect();
            paste_on_road(inlier, &refs, &config, &mut rng)
        } else {
            labelled[index - inliers.len() * args.copies].clone()
        };
        let entry = embed(&sam, &device, &frame)?;
        let stem = args.out.join("frames").join(format!("{index:05}"));
        frame.image.save(stem.with_extension("jpg"))?;
        frame.labels.save(stem.with_extension("labels.png"))?;
        write_cache_entry(&args.out, index, &entry)?;
    }
    progress.finish();
    println!("cached {total} frames in {}", args.out.display());
    Ok(())
}

/// SAM's embedding of `frame` and its token targets.
fn embed(sam: &Sam, device: &Device, frame: &LabelledFrame) -> Result<CacheEntry> {
    let (w, h) = frame.image.dimensions();
    let pixels: Vec<f32> = frame.image.as_raw().iter().map(|&v| v as f32).collect();
    let image = burn::tensor::Tensor::<3>::from_data(
        burn::tensor::TensorData::new(pixels, [h as usize, w as usize, 3]),
        device,
    );
    let (input, frame_geometry): (_, ImageFrame) = sam.preprocess(image);
    let embedding = sam.embed(input);
    let [_, channels, grid, _] = embedding.dims();
    let embedding: Vec<f32> = embedding
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading the embedding back: {e:?}"))?;
    debug_assert!(frame.labels.pixels().all(|p| p.0[0] <= 1 || p.0[0] == VOID));
    Ok(CacheEntry {
        name: frame.name.clone(),
        channels,
        targets: TokenTargets::of(&frame.labels, &frame_geometry, grid),
        embedding,
    })
}

fn train(args: &TrainArgs) -> Result<()> {
    let mut entries = Vec::new();
    for cache in &args.caches {
        entries.extend(read_cache(cache)?);
    }
    let config = HeadTrainingConfig {
        hidden_channels: args.hidden,
        epochs: args.epochs,
        batch_frames: args.batch_frames,
        learning_rate: args.learning_rate,
        held_out_every: args.held_out_every,
        seed: args.seed,
        probe_only: args.probe_only,
        ..HeadTrainingConfig::default()
    };
    eprintln!("{} cached frames", entries.len());
    let device = Device::flex().autodiff();
    let (head, report) = train_head(&entries, &config, &device, |epoch| match epoch.held_out {
        Some(m) => eprintln!(
            "epoch {:3}: loss {:.4}, held-out tokens AP {:.2} FPR95 {:.2} AUROC {:.2}",
            epoch.epoch,
            epoch.loss,
            100.0 * m.average_precision,
            100.0 * m.fpr_at_95_tpr,
            100.0 * m.auroc
        ),
        None => eprintln!("epoch {:3}: loss {:.4}", epoch.epoch, epoch.loss),
    })?;
    let metadata = [
        ("s2m.training.command", crate::command_line()),
        ("s2m.training.report", serde_json::to_string(&report)?),
    ];
    let bytes = head_bytes(&head, &metadata)?;
    write_new_file(&args.out, &bytes)?;
    println!("wrote {} ({} bytes)", args.out.display(), bytes.len());
    Ok(())
}

/// The head in the weights file at `path`.
fn read_head(path: &Path, device: &Device) -> Result<EmbeddingHead> {
    let bytes = crate::input_files::read_regular_file(path)?;
    Ok(load_embedding_head(
        bytes,
        &path.display().to_string(),
        device,
    )?)
}

/// The labels of cached frame `index` and `head`'s map of it, at the
/// frame's size.
fn cached_frame_map(
    cache: &Path,
    index: usize,
    entry: &CacheEntry,
    head: &EmbeddingHead,
    device: &Device,
) -> Result<(image::GrayImage, Vec<f32>)> {
    let labels_path = cache.join("frames").join(format!("{index:05}.labels.png"));
    let labels = image::open(&labels_path)
        .with_context(|| format!("cannot read {}", labels_path.display()))?
        .into_luma8();
    let (w, h) = labels.dimensions();
    let grid = entry.targets.grid;
    let embedding = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(entry.embedding.clone(), [1, entry.channels, grid, grid]),
        device,
    );
    let frame = ImageFrame::new((h as usize, w as usize), grid * 16);
    let values = head
        .score_map(&ImageEmbedding { embedding, frame })
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading the map back: {e:?}"))?;
    Ok((labels, values))
}

fn score(args: &ScoreArgs) -> Result<()> {
    let device = Device::flex();
    let entries = read_cache(&args.cache)?;
    for path in &args.heads {
        let head = read_head(path, &device)?;
        let mut histogram = ScoreHistogram::default();
        for (index, entry) in entries.iter().enumerate() {
            let (labels, values) = cached_frame_map(&args.cache, index, entry, &head, &device)?;
            histogram.add(&values, labels.as_raw(), VoidPixels::Excluded);
        }
        let m = histogram
            .metrics()
            .context("the cache's frames have no anomaly or no inlier pixel")?;
        println!(
            "{}: pixel AP {:.2}, FPR95 {:.2}, AUROC {:.2} ({} frames)",
            path.display(),
            100.0 * m.average_precision,
            100.0 * m.fpr_at_95_tpr,
            100.0 * m.auroc,
            entries.len()
        );
    }
    Ok(())
}

fn maps(args: &MapsArgs) -> Result<()> {
    let device = Device::flex();
    let head = read_head(&args.head, &device)?;
    let entries = read_cache(&args.cache)?;
    let progress = ProgressBar::new(entries.len() as u64);
    let mut boxes_total = 0;
    for (index, entry) in entries.iter().enumerate() {
        progress.inc(1);
        let (labels, values) = cached_frame_map(&args.cache, index, entry, &head, &device)?;
        let (w, h) = labels.dimensions();
        // The generator reads the head's probabilities on its energy scale.
        let values: Vec<f32> = values.into_iter().map(energy_of).collect();
        let boxes = object_boxes(&labels, args.min_object_pixels);
        boxes_total += boxes.len();
        let example = TrainingExample {
            height: h as usize,
            width: w as usize,
            values,
            classes: vec![0; boxes.len()],
            boxes,
        };
        write_cached_example(&args.out, index, &example)?;
    }
    progress.finish_and_clear();
    println!(
        "wrote {} maps with {boxes_total} boxes to {}",
        entries.len(),
        args.out.display()
    );
    Ok(())
}

fn write_new_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
