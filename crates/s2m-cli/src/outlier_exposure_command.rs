//! `s2m outlier-exposure`: builds the paper's outlier-exposure training set
//! (REFERENCE.md, "Training the prompt generator (outlier exposure)") and scores it once: Cityscapes `train` images, each
//! with one COCO object (or one object of a plain `images/` + `masks/`
//! folder) pasted in, scored by the RPL or PEBAL network (energy, then the
//! blur). The maps and their labels go to `<cache>/<scorer>-<key>/`
//! (`s2m_train::outlier_exposure::scored_examples`), the folder that
//! `s2m train-generator --oe-cache` trains on; a second run with the same
//! inputs, seed, size and weights reuses every cached map.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressStyle};
use s2m_core::device::{Backend, open_device};
use s2m_core::scorer::ScoreFunction;
use s2m_train::outlier_exposure::{
    CocoConfig, CocoObjects, FolderObjects, ObjectSource, OeConfig, OeDataset,
    list_cityscapes_images, network_scorer, scored_examples,
};
use sha2::{Digest, Sha256};

use crate::score_source::{ScorerChoice, load_network};

/// Samples scored (or read back) between progress updates; the maps of
/// one chunk are all that is held in memory.
const CHUNK: usize = 32;

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("outliers").required(true).args(["coco", "objects"])))]
pub struct OutlierExposureArgs {
    /// Cityscapes root: the inlier images are
    /// `leftImg8bit/train/<city>/*_leftImg8bit.png`.
    #[arg(long)]
    pub cityscapes: PathBuf,
    /// COCO root (`annotations/instances_train2017.json`, `train2017/`):
    /// the objects are the images without Cityscapes classes.
    #[arg(long)]
    pub coco: Option<PathBuf>,
    /// Instead of COCO: a folder of `images/NAME.(png|jpg)` and
    /// `masks/NAME.png` (nonzero = the object), one object per pair.
    #[arg(long)]
    pub objects: Option<PathBuf>,
    /// The frozen scorer: rpl=WEIGHTS or pebal=WEIGHTS (the authors' .pth
    /// or a converted .safetensors).
    #[arg(long)]
    pub scorer: ScorerChoice,
    /// Cache folder; the maps go to a folder inside it named after the
    /// scorer and a key of everything they depend on.
    #[arg(long, default_value = "oe-cache")]
    pub cache: PathBuf,
    /// OE images to make; default: one per Cityscapes image.
    #[arg(long)]
    pub count: Option<usize>,
    /// OE image height (the reference crops or pads to 700 x 700).
    #[arg(long, default_value_t = 700)]
    pub height: u32,
    /// OE image width.
    #[arg(long, default_value_t = 700)]
    pub width: u32,
    /// Seed of the OE set (objects, mirroring, crops, scales, positions).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the scorer runs: cpu or wgpu.
    #[arg(long, default_value = "cpu")]
    pub backend: Backend,
}

pub fn run(args: &OutlierExposureArgs) -> Result<()> {
    let weights = match &args.scorer {
        ScorerChoice::Rpl(path) | ScorerChoice::Pebal(path) => path,
        ScorerChoice::File | ScorerChoice::Novelty | ScorerChoice::Head(_) => {
            bail!(
                "outlier-exposure scores with the network: --scorer rpl=WEIGHTS or pebal=WEIGHTS (the anomaly head has its own: s2m anomaly-head prepare)"
            )
        }
    };
    let inliers = list_cityscapes_images(&args.cityscapes, "train")?;
    let objects: Box<dyn ObjectSource> = match (&args.coco, &args.objects) {
        (Some(coco), _) => Box::new(CocoObjects::open(coco, &CocoConfig::default())?),
        (None, Some(folder)) => Box::new(FolderObjects::open(folder)?),
        (None, None) => bail!("give the objects to paste: --coco DIR or --objects DIR"),
    };
    let config = OeConfig {
        height: args.height,
        width: args.width,
        seed: args.seed,
        ..OeConfig::default()
    };
    let count = args.count.unwrap_or(inliers.len());
    if count == 0 {
        bail!("--count 0: nothing to make");
    }
    let dataset = OeDataset::new(config, inliers, objects.as_ref())?;
    let device = open_device(args.backend)?;
    let network = load_network(&args.scorer, &device)?.expect("rpl or pebal, checked above");
    let scorer_name = scorer_name(&args.scorer, weights)?;
    let mut scorer = network_scorer(&network, ScoreFunction::default(), &device);

    let progress = ProgressBar::new(count as u64).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} OE images, {per_sec}, eta {eta}",
        )
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    let (mut computed, mut reused, mut dir) = (0, 0, PathBuf::new());
    for start in (0..count).step_by(CHUNK) {
        let end = (start + CHUNK).min(count);
        let (_, report) =
            scored_examples(&dataset, start..end, &args.cache, &scorer_name, &mut scorer)?;
        computed += report.computed;
        reused += report.reused;
        dir = report.dir;
        progress.set_position(end as u64);
    }
    progress.finish_and_clear();
    println!(
        "{count} OE images scored by {scorer_name}: {computed} computed, {reused} reused from \
         the cache; train on them with `s2m train-generator --oe-cache {}`",
        dir.display()
    );
    Ok(())
}

/// `rpl-<file stem>-<8 hex digits of the weights' SHA-256>`: other weights
/// under the same name get other cached maps.
fn scorer_name(choice: &ScorerChoice, weights: &Path) -> Result<String> {
    let bytes =
        std::fs::read(weights).with_context(|| format!("cannot read {}", weights.display()))?;
    let digest: String = Sha256::digest(&bytes)[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let kind = if matches!(choice, ScorerChoice::Rpl(_)) {
        "rpl"
    } else {
        "pebal"
    };
    let stem = weights
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    Ok(format!("{kind}-{stem}-{digest}"))
}
