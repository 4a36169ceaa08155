//! An evaluation run over a dataset, in two steps so that a run can be
//! split into shards and still give the numbers of one run:
//!
//! 1. [`part::PartWriter`]: each shard (or the whole run, as shard 1/1)
//!    takes its frames one by one: the pixel histograms and score ranges
//!    grow, and the frame's labels and every method's scores are appended
//!    to the part's frame file (`frames.bin`) on disk, so memory holds one
//!    frame. `part.json` keeps the counts.
//! 2. [`finalise::finalise`] reads the parts: histograms add up (pixel
//!    metrics, the best-F1 threshold the component metrics use), ranges
//!    join (baselines' normalisation over the whole dataset, as the
//!    paper's), then one pass over the frame files in dataset order gives
//!    the per-image curves and components. Adding integers and summing
//!    per-image values in dataset order make the merged numbers those of
//!    a single run, bit for bit.

pub mod finalise;
pub mod part;

use serde::{Deserialize, Serialize};

use crate::components::ComponentFilters;
use crate::ground_truth::VoidPixels;

/// What a method's scores are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreKind {
    /// S2M's confidence map: 0 outside every mask, the box's score inside.
    /// Thresholds run over [0, 1] as they are; the threshold-free
    /// prediction is `confidence > 0`, which the component metrics use too.
    Confidence,
    /// A baseline's anomaly scores: normalised by their range over the
    /// dataset; the component metrics threshold at the best pixel F1
    /// (prediction = score >= the lowest score of the histogram bin where
    /// F1 peaks, the pixels that curve point counts; SMIYC's code takes
    /// `>` of its own bin edge).
    Scores,
}

/// A method under evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Method {
    /// As given on the command line (`s2m`, `threshold:scorer`, ...).
    pub name: String,
    pub kind: ScoreKind,
}

/// What every part of a run must share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub void: VoidPixels,
    pub filters: ComponentFilters,
}
