//! `s2m eval DATASET --method ...`: our pipeline and baselines scored on
//! a benchmark's frames with S2M's and SMIYC's metrics (s2m-eval), as
//! Markdown, HTML and JSON reports; `--shard K/N` writes one shard's part
//! instead, and `s2m eval merge PARTS... --out DIR` makes the reports of
//! the parts together, with the numbers of a single run.
//!
//! Methods (several in one pass; the pipeline runs once per frame):
//! - `s2m`: S2M's confidence map (the scorer's map, the prompt
//!   generator's boxes, SAM's masks);
//! - `threshold:scorer`: plain thresholding of the map the pipeline's
//!   scorer gave (`--scorer`); `threshold:energy` (RPL / PEBAL) and
//!   `threshold:novelty` say which score it must be;
//! - `threshold:DIR`: plain thresholding of the score maps in DIR, by
//!   frame stem (`.npy`, `.npz`, `.pfm`, `.tif(f)`, `.score.png`); needs
//!   no model at all when no other method does.
//!
//! A frame whose image, labels or score map is missing or malformed is
//! reported with its path and skipped; the report counts the skipped.
//!
//! Merged shards give a single run's numbers for every method whose map
//! depends on its frame alone. The novelty scorer (`--scorer novelty`)
//! scores each frame against the other frames of its run, so sharded, its
//! reference is the shard's frames.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use s2m_core::readback::read_f32;
use s2m_core::score_map_file::ScoreMap;
use s2m_eval::components::ComponentFilters;
use s2m_eval::datasets::{Dataset, Layout, Sample};
use s2m_eval::ground_truth::{FrameLabels, VoidPixels};
use s2m_eval::report::{table, write_reports};
use s2m_eval::run::finalise::finalise;
use s2m_eval::run::part::PartWriter;
use s2m_eval::run::{Method, ScoreKind, Settings};

use crate::ModelArgs;
use crate::image_input::read_rgb;
use crate::input_files::read_regular_file;
use crate::novelty_reference::NoveltyReference;
use crate::score_source::{ScorerChoice, resolve_scorer, score_map_file};
use crate::segment_command::Segmenter;
use crate::shard::Shard;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EvalCommand {
    #[command(subcommand)]
    pub merge: Option<EvalSubcommand>,
    #[command(flatten)]
    pub run: EvalArgs,
}

#[derive(Subcommand, Debug)]
pub enum EvalSubcommand {
    /// Reports of a sharded run from its parts (the --out folders of
    /// `s2m eval --shard K/N`, every shard once).
    Merge {
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Where the reports go.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The dataset folder.
    #[arg(required = true)]
    pub dataset: Option<PathBuf>,
    /// Its layout: auto, folder, road-anomaly, smiyc, fishyscapes, camvid-ood.
    #[arg(long, default_value = "auto")]
    pub layout: Layout,
    /// Evaluate only the frames this file lists (one a line: name, file
    /// name or stem), e.g. a dev split.
    #[arg(long)]
    pub frame_list: Option<PathBuf>,
    /// A plain folder's mask value meaning anomaly.
    #[arg(long, default_value_t = 255)]
    pub anomaly_value: u8,
    /// A plain folder's mask value meaning void (none by default).
    #[arg(long)]
    pub void_value: Option<u8>,
    /// `s2m`, `threshold:scorer` or `threshold:DIR`; repeat for several.
    #[arg(long = "method", required = true)]
    pub methods: Vec<MethodChoice>,
    /// The pipeline's scorer: `head` (the default: the anomaly head on
    /// SAM's embedding) or `head=WEIGHTS`, `file` (maps beside the frames
    /// or in --score-maps; the default with --score-maps), `novelty`,
    /// `rpl=WEIGHTS`, `pebal=WEIGHTS`.
    #[arg(long)]
    pub scorer: Option<ScorerChoice>,
    /// Folder of the score maps of `--scorer file`.
    #[arg(long)]
    pub score_maps: Option<PathBuf>,
    /// The prompt generator's weights.
    #[arg(long, default_value = "weights/s2m_generator.f16.safetensors")]
    pub generator: PathBuf,
    /// Resize the score map so its shorter side is this long before the
    /// generator.
    #[arg(long, value_parser = crate::segment_command::parse_generator_size, allow_hyphen_values = true)]
    pub generator_size: Option<usize>,
    /// Void pixels: `excluded` (SMIYC; default) or `counted` (as
    /// in-distribution, S2M's reference code).
    #[arg(long, default_value = "excluded")]
    pub void: VoidChoice,
    /// SMIYC track of the component metrics' size filters: `anomaly`
    /// (predictions under 500 px dropped, ground truth under 100 px void)
    /// or `obstacle` (50 / 10 px).
    #[arg(long, default_value = "anomaly")]
    pub track: TrackChoice,
    /// Evaluate only every N-th frame from the K-th and write this part
    /// to --out (merge the parts with `s2m eval merge`).
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Output folder: the reports, or the part of --shard.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MethodChoice {
    S2m,
    /// The scorer's map; `Some(name)` when named after its score
    /// (`threshold:energy`, `threshold:novelty`), which must then be the
    /// scorer's.
    ThresholdScorer(Option<&'static str>),
    ThresholdMaps(PathBuf),
}

impl FromStr for MethodChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            None if text == "s2m" => Ok(MethodChoice::S2m),
            Some(("threshold", "scorer")) => Ok(MethodChoice::ThresholdScorer(None)),
            Some(("threshold", "energy")) => Ok(MethodChoice::ThresholdScorer(Some("energy"))),
            Some(("threshold", "novelty")) => Ok(MethodChoice::ThresholdScorer(Some("novelty"))),
            Some(("threshold", "head")) => Ok(MethodChoice::ThresholdScorer(Some("head"))),
            Some(("threshold", dir)) if !dir.is_empty() => {
                Ok(MethodChoice::ThresholdMaps(dir.into()))
            }
            _ => Err(format!(
                "`{text}`: expected s2m, threshold:scorer (or threshold:energy / threshold:novelty / threshold:head, the scorer's score) or threshold:DIR"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VoidChoice {
    Excluded,
    Counted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrackChoice {
    Anomaly,
    Obstacle,
}

pub fn run(command: &EvalCommand) -> Result<()> {
    match &command.merge {
        Some(EvalSubcommand::Merge { parts, out }) => merge(parts, out),
        None => evaluate(&command.run),
    }
}

fn merge(parts: &[PathBuf], out: &Path) -> Result<()> {
    let results = finalise(parts).context("cannot merge the parts")?;
    write_and_print(&results, out)
}

fn write_and_print(results: &s2m_eval::run::finalise::RunResults, out: &Path) -> Result<()> {
    let written = write_reports(results, out)
        .with_context(|| format!("cannot write the reports into {}", out.display()))?;
    let (columns, rows) = table(results);
    println!("{}", s2m_eval::report::settings_line(results));
    let widths: Vec<usize> = columns.iter().map(|c| c.len().max(6)).collect();
    let line = |first: &str, cells: Vec<String>| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c:>w$}"))
            .collect();
        println!("{first:<24}  {}", cells.join("  "));
    };
    line("method", columns.iter().map(|c| c.to_string()).collect());
    for (name, values) in rows {
        line(&name, values);
    }
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// How the methods get their maps.
struct Scoring {
    methods: Vec<MethodChoice>,
    segmenter: Option<Segmenter>,
    scorer: ScorerChoice,
    score_maps: Option<PathBuf>,
}

fn evaluate(args: &EvalArgs) -> Result<()> {
    let root = args
        .dataset
        .as_ref()
        .context("a dataset folder is needed")?;
    let out = args.out.as_ref().context("--out is needed")?;
    let layout = match args.layout {
        Layout::Folder { .. } => Layout::Folder {
            anomaly: args.anomaly_value,
            void: args.void_value,
        },
        Layout::Auto => match Layout::detect(root) {
            Layout::Folder { .. } => Layout::Folder {
                anomaly: args.anomaly_value,
                void: args.void_value,
            },
            other => other,
        },
        other => other,
    };
    if let Some(dir) = args.score_maps.as_deref().filter(|d| !d.is_dir()) {
        bail!("--score-maps {} is not a folder", dir.display());
    }
    let mut dataset = Dataset::open(root, layout)?;
    if let Some(list) = &args.frame_list {
        let text = std::fs::read_to_string(list)
            .with_context(|| format!("cannot read the frame list {}", list.display()))?;
        dataset
            .keep_listed(&text)
            .with_context(|| format!("frame list {}", list.display()))?;
    }
    for skipped in &dataset.skipped {
        eprintln!("skipped {}: {}", skipped.path.display(), skipped.reason);
    }
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let mut seen = std::collections::HashSet::new();
    for m in &args.methods {
        if !seen.insert(m.clone()) {
            bail!("--method {m:?} is given twice");
        }
    }
    let scorer = resolve_scorer(args.scorer.as_ref(), args.score_maps.is_some());
    for m in &args.methods {
        if let MethodChoice::ThresholdScorer(Some(score)) = m {
            if *score != scorer_score(&scorer) {
                bail!(
                    "--method threshold:{score} needs a scorer giving it; --scorer {} gives {}",
                    scorer_name(&scorer),
                    scorer_score(&scorer)
                );
            }
        }
    }
    let needs_pipeline = args
        .methods
        .iter()
        .any(|m| !matches!(m, MethodChoice::ThresholdMaps(_)));
    let segmenter = if needs_pipeline {
        Some(Segmenter::load(
            &args.model,
            &args.generator,
            args.generator_size,
            &scorer,
        )?)
    } else {
        None
    };
    let methods: Vec<Method> = args
        .methods
        .iter()
        .map(|m| Method {
            name: match m {
                MethodChoice::S2m => "s2m".into(),
                MethodChoice::ThresholdScorer(_) => {
                    format!("threshold:{}", scorer_name(&scorer))
                }
                MethodChoice::ThresholdMaps(dir) => format!("threshold:{}", dir.display()),
            },
            kind: match m {
                MethodChoice::S2m => ScoreKind::Confidence,
                _ => ScoreKind::Scores,
            },
        })
        .collect();
    let settings = Settings {
        void: match args.void {
            VoidChoice::Excluded => VoidPixels::Excluded,
            VoidChoice::Counted => VoidPixels::CountedAsInlier,
        },
        filters: match args.track {
            TrackChoice::Anomaly => ComponentFilters::ANOMALY_TRACK,
            TrackChoice::Obstacle => ComponentFilters::OBSTACLE_TRACK,
        },
    };
    let description = format!(
        "{} ({})",
        root.file_name().map_or_else(
            || root.display().to_string(),
            |n| n.to_string_lossy().into_owned()
        ),
        dataset.layout
    );
    let part_dir = match args.shard {
        Some(_) => out.clone(),
        None => out.join(".part"),
    };
    // Files that could not become frames (no label image) count among the
    // dataset's frames as skipped, numbered after the frames; the first
    // shard reports them.
    let listed = dataset.samples.len();
    let mut part = PartWriter::create(
        &part_dir,
        description,
        listed + dataset.skipped.len(),
        (shard.index, shard.count),
        settings,
        methods,
    )?;
    if shard.index == 0 {
        for (k, skipped) in dataset.skipped.iter().enumerate() {
            part.skip_frame(
                listed + k,
                &skipped.path.display().to_string(),
                skipped.reason.clone(),
            );
        }
    }
    let frames: Vec<(usize, &Sample)> = dataset.shard(shard.index, shard.count);
    let scoring = Scoring {
        methods: args.methods.clone(),
        segmenter,
        scorer: scorer.clone(),
        score_maps: args.score_maps.clone(),
    };
    let mut novelty = match (&scoring.segmenter, &scorer) {
        (Some(segmenter), ScorerChoice::Novelty) => {
            if shard.count > 1 {
                // Each frame is scored against the others of its shard:
                // the merged numbers are not those of a single run.
                eprintln!("note: the novelty scorer's reference is this shard's frames ({shard})");
            }
            eprintln!("embedding the frames for the novelty scorer…");
            let files: Vec<PathBuf> = frames.iter().map(|(_, s)| s.image.clone()).collect();
            Some(NoveltyReference::build(
                segmenter.pipeline(),
                &files,
                &[],
                segmenter.device(),
            )?)
        }
        _ => None,
    };

    let progress = ProgressBar::new(frames.len() as u64).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} frames, ETA {eta} {msg}",
        )
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    let mut evaluated = 0;
    for (position, (index, sample)) in frames.iter().enumerate() {
        progress.set_message(sample.name.clone());
        let novelty_input = novelty
            .as_mut()
            .map(|r| (r.take_embedding(position), r.bank_for(position)));
        let outcome = sample
            .read_labels()
            .map_err(anyhow::Error::from)
            .and_then(|labels| Ok((scoring.maps(sample, &labels, novelty_input)?, labels)));
        match outcome.and_then(|(maps, labels)| {
            part.add_frame(*index, &sample.name, &labels, &maps)
                .map_err(|e| anyhow::anyhow!(e))
        }) {
            Ok(()) => evaluated += 1,
            Err(error) => {
                let reason = format!("{error:#}");
                progress.suspend(|| eprintln!("skipped {}: {reason}", sample.image.display()));
                part.skip_frame(*index, &sample.name, reason);
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let part_dir = part.finish()?;
    if evaluated == 0 && !frames.is_empty() {
        bail!(
            "none of the {} frames could be evaluated (each is listed above with why)",
            frames.len()
        );
    }
    if let Some(shard) = args.shard {
        println!(
            "wrote shard {shard} ({} frames) to {}; when every shard is done: s2m eval merge PARTS... --out REPORTS",
            frames.len(),
            part_dir.display()
        );
        return Ok(());
    }
    let results = finalise(std::slice::from_ref(&part_dir))?;
    std::fs::remove_dir_all(&part_dir)
        .with_context(|| format!("cannot remove {}", part_dir.display()))?;
    write_and_print(&results, out)
}

/// What the scorer's map holds.
fn scorer_score(scorer: &ScorerChoice) -> &'static str {
    match scorer {
        ScorerChoice::File => "the files' scores",
        ScorerChoice::Novelty => "novelty",
        ScorerChoice::Head(_) => "head",
        ScorerChoice::Rpl(_) | ScorerChoice::Pebal(_) => "energy",
    }
}

fn scorer_name(scorer: &ScorerChoice) -> &'static str {
    match scorer {
        ScorerChoice::File => "file",
        ScorerChoice::Novelty => "novelty",
        ScorerChoice::Head(_) => "head",
        ScorerChoice::Rpl(_) => "rpl",
        ScorerChoice::Pebal(_) => "pebal",
    }
}

impl Scoring {
    /// Each method's map of `sample`, at the labels' size.
    fn maps(
        &self,
        sample: &Sample,
        labels: &FrameLabels,
        novelty: Option<(
            Option<crate::novelty_reference::TimedEmbedding>,
            Option<s2m_core::scorer::novelty::ReferenceBank>,
        )>,
    ) -> Result<Vec<Vec<f32>>> {
        let size = (labels.height, labels.width);
        let pipeline = match &self.segmenter {
            Some(segmenter) => {
                let image = read_rgb(&sample.image)?;
                if (image.height, image.width) != size {
                    bail!(
                        "the image is {}x{} but its labels {} are {}x{}",
                        image.height,
                        image.width,
                        sample.labels.display(),
                        size.0,
                        size.1
                    );
                }
                let map_file = match self.scorer {
                    ScorerChoice::File => {
                        Some(score_map_file(&sample.image, self.score_maps.as_deref())?)
                    }
                    _ => None,
                };
                let (segmentation, score_map, _) =
                    segmenter.compute(&sample.image, &image, map_file.as_deref(), novelty)?;
                let scores = pollster::block_on(read_f32(score_map, "the score map"))?;
                Some((segmentation.confidence, scores))
            }
            None => None,
        };
        self.methods
            .iter()
            .map(|m| match (m, &pipeline) {
                (MethodChoice::S2m, Some((confidence, _))) => Ok(confidence.clone()),
                (MethodChoice::ThresholdScorer(_), Some((_, scores))) => Ok(scores.clone()),
                (MethodChoice::ThresholdMaps(dir), _) => read_map(&sample.image, dir, size),
                _ => unreachable!("the pipeline runs when a method needs it"),
            })
            .collect()
    }
}

/// The score map of `image` in `dir`, which must be `size`.
fn read_map(image: &Path, dir: &Path, size: (usize, usize)) -> Result<Vec<f32>> {
    let path = score_map_file(image, Some(dir))?;
    let bytes = read_regular_file(&path)?;
    let map = ScoreMap::from_bytes(&bytes, &path.display().to_string())?;
    map.expect_size(size.0, size.1)
        .with_context(|| format!("{} does not fit the frame's labels", path.display()))?;
    Ok(map.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse() {
        assert_eq!("s2m".parse(), Ok(MethodChoice::S2m));
        assert_eq!(
            "threshold:scorer".parse(),
            Ok(MethodChoice::ThresholdScorer(None))
        );
        assert_eq!(
            "threshold:energy".parse(),
            Ok(MethodChoice::ThresholdScorer(Some("energy")))
        );
        assert_eq!(
            "threshold:maps/rpl".parse(),
            Ok(MethodChoice::ThresholdMaps("maps/rpl".into()))
        );
        for bad in ["threshold:", "threshold", "sam", "s2m:x"] {
            assert!(bad.parse::<MethodChoice>().is_err(), "{bad}");
        }
    }
}
