//! s2m-train: training the S2M prompt generator natively (REFERENCE.md,
//! "Training the prompt generator"): score-map synthesis for training
//! without datasets, the detector's training with burn's autodiff, and
//! synthetic scenes (pictures with pasted objects) for end-to-end tests.
//! Outlier exposure on real datasets (issue #4): Cityscapes images with
//! COCO objects pasted in, scored once by a frozen scorer. The anomaly
//! head on SAM's image embedding, trained on real road frames with
//! outliers pasted on the road.

pub mod anomaly_head;
pub mod outlier_exposure;
pub mod scene;
pub mod synthesis;
pub mod training;
