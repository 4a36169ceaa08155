//! The reference of `s2m segment --scorer novelty`
//! (`s2m_core::scorer::novelty`): the frames the user marked as normal
//! (`--normal`), or else the other uploaded frames (leave-one-out), or for
//! a lone frame nothing (the frame against itself).
//!
//! Building the bank embeds every frame once; the embeddings of the first
//! [`MAX_KEPT_EMBEDDINGS`] inputs are kept for the masks (4 MiB each), the
//! others are computed again when their turn comes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::Device;
use s2m_core::pipeline::{ImageEmbedding, Pipeline};
use s2m_core::scorer::novelty::{ReferenceBank, frame_cells};

use crate::image_input::read_rgb;

/// Input embeddings kept between building the bank and segmenting.
pub const MAX_KEPT_EMBEDDINGS: usize = 64;

/// A frame's embedding and the seconds its encoding took.
pub type TimedEmbedding = (ImageEmbedding, f64);

pub struct NoveltyReference {
    bank: ReferenceBank,
    /// Each input's frame index in `bank`, when it is there (left out when
    /// that input is scored).
    bank_index: Vec<Option<usize>>,
    kept: Vec<Option<TimedEmbedding>>,
}

impl NoveltyReference {
    /// The reference for `inputs` given the `normal` frames (maybe none).
    /// An input that cannot be read stays out of the bank (its own turn
    /// reports the error); a normal frame that cannot be read is an error.
    pub fn build(
        pipeline: &Pipeline,
        inputs: &[PathBuf],
        normal: &[PathBuf],
        device: &Device,
    ) -> Result<Self> {
        let mut reference = Self {
            bank: ReferenceBank::new(),
            bank_index: vec![None; inputs.len()],
            kept: inputs.iter().map(|_| None).collect(),
        };
        if !normal.is_empty() {
            for path in normal {
                let (embedded, _) = embed(pipeline, path, device)
                    .with_context(|| format!("normal frame {}", path.display()))?;
                let same = |input: &PathBuf| same_file(input, path);
                if let Some(i) = inputs.iter().position(same) {
                    reference.bank_index[i] = Some(reference.bank.len());
                }
                reference
                    .bank
                    .push(frame_cells(&embedded.embedding, &embedded.frame));
            }
        } else if inputs.len() > 1 {
            for (i, path) in inputs.iter().enumerate() {
                let Ok((embedded, seconds)) = embed(pipeline, path, device) else {
                    continue;
                };
                reference.bank_index[i] = Some(reference.bank.len());
                reference
                    .bank
                    .push(frame_cells(&embedded.embedding, &embedded.frame));
                if i < MAX_KEPT_EMBEDDINGS {
                    reference.kept[i] = Some((embedded, seconds));
                }
            }
        }
        Ok(reference)
    }

    /// The bank input `input` is scored against (itself left out); `None`
    /// for the lone-frame mode.
    pub fn bank_for(&self, input: usize) -> Option<ReferenceBank> {
        let bank = match self.bank_index[input] {
            Some(index) => self.bank.without(index),
            None => self.bank.clone(),
        };
        (!bank.is_empty()).then_some(bank)
    }

    /// The embedding of input `input` computed while building the bank.
    pub fn take_embedding(&mut self, input: usize) -> Option<TimedEmbedding> {
        self.kept[input].take()
    }
}

fn embed(pipeline: &Pipeline, path: &Path, device: &Device) -> Result<TimedEmbedding> {
    let image = read_rgb(path)?;
    let start = Instant::now();
    let embedded = pipeline.embed(image.to_tensor(device))?;
    crate::segment_command::settle(&embedded.embedding)?;
    Ok((embedded, start.elapsed().as_secs_f64()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
