//! s2m-train: training the S2M prompt generator natively (REFERENCE.md,
//! "Training the prompt generator"): score-map synthesis for training
//! without datasets, the detector's training with burn's autodiff, and
//! synthetic scenes (pictures with pasted objects) for end-to-end tests.
//! Outlier exposure on real datasets follows (issue #4).

pub mod scene;
pub mod synthesis;
pub mod training;
