//! Outlier exposure (OE) on real datasets (REFERENCE.md, "Training the
//! prompt generator (outlier exposure)"; issue #4, item 1): objects cut out
//! of COCO (or of a plain folder of images and masks) pasted onto
//! Cityscapes training images, one object per image, each OE image labelled
//! with the tightest box around its pasted mask and scored once by a frozen
//! scorer.
//!
//! One file per step:
//! - `cityscapes.rs`: the inlier images (`leftImg8bit/<split>/<city>/`);
//! - `coco.rs` (with `coco_mask.rs`): the outliers, COCO instances whose
//!   category is not a Cityscapes class;
//! - `folder.rs`: outliers from `images/` + `masks/` folders;
//! - `object.rs`: an outlier cut out by the box of its mask;
//! - `rescale.rs`: OpenCV-style bilinear and nearest resizing;
//! - `paste.rs`: the recipe (mirror, crop or pad, scale, uniform
//!   placement, `x = (1 - m) x_in + m x_out`, tight box), every knob in
//!   [`OeConfig`];
//! - `dataset.rs`: sample `i` of an OE set, reproducible from the seed;
//! - `score_cache.rs`: score maps of the OE images, computed once per
//!   scorer and cached on disk as `.npy`, turned into
//!   [`TrainingExample`](crate::training::step::TrainingExample)s, read
//!   back for training by [`cached_examples`] (trained on by
//!   [`ExampleRun`](crate::training::ExampleRun)).
//!
//! The reference is the OE code the paper's scorer and generator were
//! trained with: RPL (`yyliu01/RPL`, `rpl_corocl.code/dataset/
//! data_loader.py`, `utils/img_utils.py`), copied into S2M
//! (`WenjieZhao1/S2M`, `datasets/data_loader_online.py`,
//! `detectron2/data/datasets/cityscapes_coco_offline.py`), both derived
//! from PEBAL (`tianyu0207/PEBAL`, `code/dataset/data_loader.py`) and
//! Meta-OoD's COCO preparation (`prepare_coco_segmentation.py`). Each
//! file notes where we follow it and where we deviate.

mod cityscapes;
mod coco;
mod coco_mask;
mod dataset;
mod folder;
mod object;
mod paste;
pub(crate) mod rescale;
mod score_cache;

pub use cityscapes::list_cityscapes_images;
pub use coco::{COCO_CITYSCAPES_CLASSES, CocoConfig, CocoGrouping, CocoObjects};
pub use coco_mask::{Segmentation, decode_rle_string, polygon_mask, rle_mask};
pub use dataset::{ObjectSource, OeDataset};
pub use folder::FolderObjects;
pub use object::OeObject;
pub use paste::{OeConfig, OeSample, compose, tight_box};
pub use score_cache::{
    CachedScoring, cached_examples, network_scorer, scored_examples, write_cached_example,
};

use std::path::PathBuf;

/// Everything that can go wrong reading OE inputs or producing samples.
#[derive(Debug, thiserror::Error)]
pub enum OeError {
    #[error("invalid OE config: {knob} {problem}")]
    InvalidConfig { knob: &'static str, problem: String },
    #[error("{path}: {problem}")]
    Dataset { path: PathBuf, problem: String },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable image: {source}")]
    Image {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("{what}: {problem}")]
    Object { what: String, problem: String },
    #[error("scorer {scorer} failed on OE sample {index}: {problem}")]
    Scorer {
        scorer: String,
        index: usize,
        problem: String,
    },
}

impl OeError {
    fn dataset(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Self::Dataset {
            path: path.into(),
            problem: problem.into(),
        }
    }

    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    fn object(what: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Object {
            what: what.into(),
            problem: problem.into(),
        }
    }
}

/// Opens an image file as 8-bit RGB.
fn open_rgb(path: &std::path::Path) -> Result<image::RgbImage, OeError> {
    image::ImageReader::open(path)
        .map_err(OeError::io(path))?
        .with_guessed_format()
        .map_err(OeError::io(path))?
        .decode()
        .map(|image| image.into_rgb8())
        .map_err(|source| OeError::Image {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod test_data;
