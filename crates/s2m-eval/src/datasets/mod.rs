//! Benchmark datasets as lists of (image, label image) pairs, labels
//! mapped to 0 / 1 / 255 ([`label_mapping`]). [`layouts`] knows the
//! folder layouts:
//!
//! - a plain folder: images with `<stem>.mask.png` / `<stem>.label.png`
//!   beside them or `labels/<stem>.png` (what `s2m synthesize` writes);
//! - RoadAnomaly's release: `frames/<name>.jpg` with
//!   `frames/<name>.labels/labels_semantic.png`;
//! - SMIYC (RoadAnomaly21 / RoadObstacle21): `images/<id>.jpg|.webp`
//!   with `labels_masks/<id>_labels_semantic.png`;
//! - Fishyscapes Lost & Found / Static as RPL and S2M keep them:
//!   `original/<name>.png` with `labels/<name>.png`;
//! - CamVid-OOD (valeoai/obsnet): `test_ood/<name>.png` with
//!   `testannot_ood/<name>.png`.
//!
//! A frame whose label file is missing is listed as skipped with its path
//! and why; reading a label that turns out malformed is an error naming
//! the file, for the caller to report and skip.

pub mod label_mapping;
pub mod layouts;

use std::path::{Path, PathBuf};

use image::ImageReader;

use crate::ground_truth::FrameLabels;
use label_mapping::LabelMapping;
pub use layouts::Layout;

/// One frame of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The frame's name in reports: its path inside the dataset folder.
    pub name: String,
    pub image: PathBuf,
    pub labels: PathBuf,
    pub mapping: LabelMapping,
}

/// A dataset's frames, in a stable (sorted) order, and the files that
/// could not become frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub layout: Layout,
    pub samples: Vec<Sample>,
    pub skipped: Vec<Skipped>,
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
    #[error("label image {path}: {message}")]
    Labels { path: PathBuf, message: String },
}

/// Label images larger than this many pixels are refused.
pub const MAX_LABEL_PIXELS: u64 = crate::MAX_FRAME_PIXELS as u64;

impl Sample {
    /// The frame's ground truth: the label image decoded (a single
    /// channel, 8 or 16 bit; 16-bit values above 255 are errors) and
    /// mapped to 0 / 1 / 255.
    pub fn read_labels(&self) -> Result<FrameLabels, DatasetError> {
        let error = |message: String| DatasetError::Labels {
            path: self.labels.clone(),
            message,
        };
        let mut reader = ImageReader::open(&self.labels)
            .map_err(|e| error(e.to_string()))?
            .with_guessed_format()
            .map_err(|e| error(e.to_string()))?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_LABEL_PIXELS * 8);
        reader.limits(limits);
        let (width, height) = reader.into_dimensions().map_err(|e| error(e.to_string()))?;
        if width as u64 * height as u64 > MAX_LABEL_PIXELS {
            return Err(error(format!(
                "{width}x{height} is over {MAX_LABEL_PIXELS} pixels"
            )));
        }
        let image = ImageReader::open(&self.labels)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| error(e.to_string()))?
            .decode()
            .map_err(|e| error(e.to_string()))?;
        let raw: Vec<u8> = match &image {
            image::DynamicImage::ImageLuma8(gray) => gray.as_raw().clone(),
            image::DynamicImage::ImageLuma16(gray) => gray
                .as_raw()
                .iter()
                .map(|&v| {
                    u8::try_from(v)
                        .map_err(|_| error(format!("16-bit label value {v} is over 255")))
                })
                .collect::<Result<_, _>>()?,
            other if other.color().has_color() || other.color().has_alpha() => {
                // Masks saved as RGB with equal channels are accepted.
                let rgb = other.to_rgb8();
                if rgb.pixels().any(|p| p[0] != p[1] || p[1] != p[2]) {
                    return Err(error(format!(
                        "a colour image ({:?}); expected a single-channel label image",
                        other.color()
                    )));
                }
                rgb.pixels().map(|p| p[0]).collect()
            }
            other => other.to_luma8().into_raw(),
        };
        let labels = raw
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                self.mapping.map(v).ok_or_else(|| {
                    error(format!(
                        "value {v} at pixel ({}, {}) is not a label of this layout ({:?})",
                        i % width as usize,
                        i / width as usize,
                        self.mapping
                    ))
                })
            })
            .collect::<Result<Vec<u8>, _>>()?;
        FrameLabels::new(height as usize, width as usize, labels).map_err(|e| error(e.to_string()))
    }
}

impl Dataset {
    /// The dataset in `root`, laid out as `layout` (or detected from the
    /// folders present with [`Layout::Auto`]).
    pub fn open(root: &Path, layout: Layout) -> Result<Dataset, DatasetError> {
        layouts::list(root, layout)
    }

    /// Keeps only the frames `list` names (one a line: a frame's name in the
    /// dataset, its file name or its stem; blank lines and `#` comments are
    /// ignored), in the dataset's order: a split such as a dev half. A
    /// listed name that matches no frame is an error naming it.
    pub fn keep_listed(&mut self, list: &str) -> Result<(), DatasetError> {
        let wanted: Vec<&str> = list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let names = |s: &Sample| {
            let file = s
                .image
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = s
                .image
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            [s.name.clone(), file, stem]
        };
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| !self.samples.iter().any(|s| names(s).iter().any(|n| n == w)))
            .collect();
        if !missing.is_empty() {
            return Err(DatasetError::Layout {
                path: PathBuf::from(missing[0]),
                message: format!(
                    "{} listed frame(s) are not in the dataset (first shown)",
                    missing.len()
                ),
            });
        }
        self.samples
            .retain(|s| names(s).iter().any(|n| wanted.contains(&n.as_str())));
        // Files left out for want of labels count only when listed.
        self.skipped.retain(|s| {
            let file = s.path.file_name().map(|n| n.to_string_lossy().into_owned());
            let stem = s.path.file_stem().map(|n| n.to_string_lossy().into_owned());
            [file, stem]
                .iter()
                .flatten()
                .any(|n| wanted.contains(&n.as_str()))
        });
        Ok(())
    }

    /// Every `count`-th frame from `index` (a shard of a sharded run).
    pub fn shard(&self, index: usize, count: usize) -> Vec<(usize, &Sample)> {
        self.samples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % count == index)
            .collect()
    }
}
