//! The S2M prompt generator: a Faster R-CNN that reads the anomaly score
//! map and returns box prompts (REFERENCE.md, "Prompt generator").
//!
//! Follows detectron2's `faster_rcnn_R_50_FPN_3x` configuration, the layout
//! the S2M authors trained. This module grows stage by stage, one file per
//! stage as in torchvision's `models/detection/`: so far the configuration,
//! anchors, the box coder, NMS and the FPN level of a box.

pub mod anchors;
pub mod box_coder;
pub mod config;
pub mod nms;
pub mod poolers;

pub use config::DetectorConfig;
