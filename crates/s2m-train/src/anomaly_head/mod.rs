//! Training the anomaly head on SAM's image embedding
//! ([`s2m_core::scorer::EmbeddingHead`]) by outlier exposure on real road
//! frames.
//!
//! The recipe extends REFERENCE.md's linear-probe baseline ("A baseline
//! scorer on SAM's image embedding"): inlier road frames get outliers
//! pasted where a driver would meet them, every frame is embedded once by
//! SAM's encoder and cached with the fraction of each token's pixels that
//! are anomalous, and the head is trained on the cache with binary
//! cross-entropy. One file per step:
//!
//! - `labelled_frame.rs`: a frame with per-pixel labels (0 road scene,
//!   1 anomaly, 255 void), and the inlier frames with their class maps;
//! - `procedural_objects.rs`: textured synthetic outliers (rocks, boxes,
//!   cones, tyres, planks, bags) beside the cut-outs of real objects;
//! - `road_paste.rs`: objects standing on the road, sized by perspective,
//!   blended with a soft edge, matched brightness and a contact shadow;
//! - `token_targets.rs`: per-token anomaly fractions and loss weights;
//! - `embedding_cache.rs`: embeddings and targets on disk, one file per
//!   frame, computed once;
//! - `head_training.rs`: the training loop and its held-out metrics.

mod embedding_cache;
mod head_training;
mod labelled_frame;
mod procedural_objects;
mod road_paste;
mod token_targets;

pub use embedding_cache::{CacheEntry, read_cache, write_cache_entry};
pub use head_training::{HeadTrainingConfig, HeadTrainingReport, head_bytes, train_head};
pub use labelled_frame::{LabelledFrame, RoadFrame, cut_objects, object_boxes, read_road_frames};
pub use procedural_objects::procedural_object;
pub use road_paste::{PasteConfig, paste_on_road};
pub use token_targets::TokenTargets;

use std::path::PathBuf;

/// Label of a void pixel in a [`LabelledFrame`] (ignored by the loss).
pub const VOID: u8 = 255;

/// Everything that can go wrong preparing or training the head.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("{path}: {problem}")]
    Input { path: PathBuf, problem: String },
    #[error("{0}")]
    Training(String),
}

impl HeadError {
    fn input(path: impl Into<PathBuf>, problem: impl std::fmt::Display) -> Self {
        Self::Input {
            path: path.into(),
            problem: problem.to_string(),
        }
    }
}
