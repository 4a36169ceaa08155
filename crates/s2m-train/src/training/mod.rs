//! Training the prompt generator with burn's autodiff, as detectron2 trains
//! a Faster R-CNN (REFERENCE.md, "Training the prompt generator"): anchor
//! and proposal matching and sampling, the RPN and box-head losses, SGD
//! with momentum, linear warm-up and step decay, multi-scale resizing.
//! One loop (`trainer`) serves two sources of maps: synthesised maps
//! drawn afresh (`synthetic_run`) and a fixed list such as the cached
//! outlier-exposure maps (`example_run`).

pub mod augment;
pub mod calibration;
pub mod checkpoint;
pub mod config;
pub mod example_run;
pub mod losses;
pub mod matcher;
pub mod resize;
pub mod roi_targets;
pub mod rpn_targets;
pub mod sampling;
pub mod step;
pub mod synthetic_run;
pub mod trainer;
pub mod validation;

pub use config::TrainingConfig;
pub use example_run::ExampleRun;
pub use step::{Losses, TrainingExample, train_step};
pub use synthetic_run::SyntheticRun;
pub use trainer::TrainingError;
pub use validation::{ValidationMap, ValidationMetrics, validate};
