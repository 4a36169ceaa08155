//! Evaluation of out-of-distribution segmentation, as REFERENCE.md's "Metrics" section define it:
//!
//! - [`threshold_curve`]: S2M's component-free metrics per image (IoU and
//!   F1 over 101 thresholds; best IoU, AuIoU, mean F1);
//! - [`score_histogram`]: SMIYC's pixel metrics (AP, FPR at 95 % TPR,
//!   AUROC) from a streaming histogram of scores;
//! - [`components`]: SMIYC's component metrics (sIoU, PPV, mean F1);
//! - [`ground_truth`]: labels 0 / 1 / void and how void pixels count;
//! - with the `datasets` feature, [`datasets`] reads benchmark layouts;
//!   with `runs`, [`run`] evaluates a dataset in shards and merges them,
//!   and [`report`] writes Markdown, HTML and JSON.
//!
//! The metric modules need no I/O: the page compiles them too.

pub mod components;
#[cfg(feature = "datasets")]
pub mod datasets;
pub mod ground_truth;
#[cfg(feature = "runs")]
pub mod report;
#[cfg(feature = "runs")]
pub mod run;
pub mod score_histogram;
pub mod threshold_curve;

/// Frames larger than this many pixels are refused (the largest
/// benchmark frames are 2048 x 1024).
pub const MAX_FRAME_PIXELS: usize = 64 << 20;
