//! Training the prompt generator with burn's autodiff, as detectron2 trains
//! a Faster R-CNN (REFERENCE.md, "Training the prompt generator"): anchor
//! and proposal matching and sampling, the RPN and box-head losses, SGD
//! with momentum, linear warm-up and step decay, multi-scale resizing.

pub mod augment;
pub mod checkpoint;
pub mod config;
pub mod losses;
pub mod matcher;
pub mod resize;
pub mod roi_targets;
pub mod rpn_targets;
pub mod sampling;
pub mod step;
pub mod synthetic_run;
pub mod validation;

pub use config::TrainingConfig;
pub use step::{Losses, TrainingExample, train_step};
pub use synthetic_run::{SyntheticRun, TrainingError};
pub use validation::ValidationMetrics;
