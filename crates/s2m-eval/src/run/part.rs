//! One part of a run (a shard, or the whole run): its accumulators in
//! `part.json` and its frames in `frames.bin`.
//!
//! `frames.bin` is a sequence of records, little-endian: the frame's
//! dataset index (u64), height and width (u32 each), the labels (one byte
//! a pixel, 0 / 1 / 255), then each method's scores (f32 a pixel), in the
//! order of `part.json`'s methods. Records follow the dataset order.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Method, Settings};
use crate::ground_truth::{FrameLabels, VoidPixels};
use crate::score_histogram::{ScoreHistogram, SparseHistogram};
use crate::threshold_curve::ScoreRange;

pub const PART_FILE: &str = "part.json";
pub const FRAMES_FILE: &str = "frames.bin";
/// Bumped when either file changes shape.
pub const FORMAT_VERSION: u32 = 1;

/// A frame that was not evaluated, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFrame {
    pub index: usize,
    pub name: String,
    pub reason: String,
}

/// A frame evaluated in this part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameEntry {
    pub index: usize,
    pub name: String,
}

/// `part.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartManifest {
    pub format_version: u32,
    /// What was evaluated (the dataset folder and layout), as the caller
    /// describes it; every part of a run must say the same.
    pub dataset: String,
    /// The dataset's frame count, all shards together.
    pub dataset_frames: usize,
    /// This part is shard `shard.0` of `shard.1` (0-based index).
    pub shard: (usize, usize),
    pub settings: Settings,
    pub methods: Vec<Method>,
    /// Per method: every pixel's score (void included) bounds.
    pub ranges: Vec<Option<ScoreRange>>,
    /// Per method: the judged pixels' histogram.
    pub histograms: Vec<SparseHistogram>,
    pub frames: Vec<FrameEntry>,
    pub skipped: Vec<SkippedFrame>,
}

/// A frame's scores that cannot be evaluated.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("method {method}: {got} scores for a {height}x{width} frame")]
    Size {
        method: String,
        got: usize,
        height: usize,
        width: usize,
    },
    #[error("method {method}: score {value} at pixel {index} is not finite")]
    NotFinite {
        method: String,
        value: f32,
        index: usize,
    },
    #[error("{count} score maps for {methods} methods")]
    Count { count: usize, methods: usize },
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct PartIoError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Writes a part frame by frame.
pub struct PartWriter {
    dir: PathBuf,
    manifest: PartManifest,
    histograms: Vec<ScoreHistogram>,
    frames: BufWriter<File>,
}

impl PartWriter {
    /// A new part in `dir` (created; an earlier part there is replaced).
    pub fn create(
        dir: &Path,
        dataset: String,
        dataset_frames: usize,
        shard: (usize, usize),
        settings: Settings,
        methods: Vec<Method>,
    ) -> Result<PartWriter, PartIoError> {
        let io = |source| PartIoError {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(FRAMES_FILE);
        let frames = File::create(&path).map_err(|source| PartIoError { path, source })?;
        Ok(PartWriter {
            dir: dir.to_path_buf(),
            histograms: methods.iter().map(|_| ScoreHistogram::default()).collect(),
            manifest: PartManifest {
                format_version: FORMAT_VERSION,
                dataset,
                dataset_frames,
                shard,
                settings,
                ranges: vec![None; methods.len()],
                histograms: Vec::new(),
                methods,
                frames: Vec::new(),
                skipped: Vec::new(),
            },
            frames: BufWriter::new(frames),
        })
    }

    /// Adds frame `index` (`scores`: one map per method, each covering
    /// `labels`). A frame whose scores do not fit is refused, and nothing
    /// of it is kept.
    pub fn add_frame(
        &mut self,
        index: usize,
        name: &str,
        labels: &FrameLabels,
        scores: &[Vec<f32>],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let methods = &self.manifest.methods;
        if scores.len() != methods.len() {
            return Err(FrameError::Count {
                count: scores.len(),
                methods: methods.len(),
            }
            .into());
        }
        let (height, width) = (labels.height, labels.width);
        for (method, map) in methods.iter().zip(scores) {
            if map.len() != height * width {
                return Err(FrameError::Size {
                    method: method.name.clone(),
                    got: map.len(),
                    height,
                    width,
                }
                .into());
            }
            if let Some(index) = map.iter().position(|s| !s.is_finite()) {
                return Err(FrameError::NotFinite {
                    method: method.name.clone(),
                    value: map[index],
                    index,
                }
                .into());
            }
        }
        let void = self.manifest.settings.void;
        for (k, map) in scores.iter().enumerate() {
            self.histograms[k].add(map, labels.labels(), void);
            if let Some(range) = ScoreRange::of(map) {
                let joined = self.manifest.ranges[k].map_or(range, |r| r.union(range));
                self.manifest.ranges[k] = Some(joined);
            }
        }
        let io = |source| PartIoError {
            path: self.dir.join(FRAMES_FILE),
            source,
        };
        let mut record = Vec::with_capacity(16 + height * width * (1 + 4 * scores.len()));
        record.extend_from_slice(&(index as u64).to_le_bytes());
        record.extend_from_slice(&(height as u32).to_le_bytes());
        record.extend_from_slice(&(width as u32).to_le_bytes());
        record.extend_from_slice(labels.labels());
        for map in scores {
            for s in map {
                record.extend_from_slice(&s.to_le_bytes());
            }
        }
        self.frames.write_all(&record).map_err(io)?;
        self.manifest.frames.push(FrameEntry {
            index,
            name: name.to_string(),
        });
        Ok(())
    }

    /// Records that frame `index` was not evaluated.
    pub fn skip_frame(&mut self, index: usize, name: &str, reason: String) {
        self.manifest.skipped.push(SkippedFrame {
            index,
            name: name.to_string(),
            reason,
        });
    }

    pub fn void(&self) -> VoidPixels {
        self.manifest.settings.void
    }

    /// Writes `part.json`; the part is complete.
    pub fn finish(mut self) -> Result<PathBuf, PartIoError> {
        let io = |path: PathBuf| move |source| PartIoError { path, source };
        self.frames
            .flush()
            .map_err(io(self.dir.join(FRAMES_FILE)))?;
        self.manifest.histograms = self
            .histograms
            .iter()
            .map(ScoreHistogram::to_sparse)
            .collect();
        let path = self.dir.join(PART_FILE);
        let json = serde_json::to_string(&self.manifest).map_err(|e| PartIoError {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(&path, json + "\n").map_err(io(path.clone()))?;
        Ok(self.dir)
    }
}
