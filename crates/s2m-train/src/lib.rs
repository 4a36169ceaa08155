//! s2m-train: training the S2M prompt generator natively (REFERENCE.md,
//! "Training the prompt generator"): score-map synthesis for training
//! without datasets, and the detector's training with burn's autodiff.
//! Outlier exposure on real datasets follows (issue #4).

pub mod synthesis;
pub mod training;
