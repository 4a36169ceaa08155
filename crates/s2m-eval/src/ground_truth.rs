//! Ground truth of one frame: per pixel in-distribution (0), anomaly (1)
//! or void (255), REFERENCE.md "Metrics". Dataset readers map their own
//! label values onto these three.

use serde::{Deserialize, Serialize};

/// An in-distribution pixel.
pub const INLIER: u8 = 0;
/// An out-of-distribution (anomaly) pixel.
pub const ANOMALY: u8 = 1;
/// A pixel no metric may judge (unlabelled, ego vehicle, ...).
pub const VOID: u8 = 255;

/// How void pixels enter the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoidPixels {
    /// Left out of every count (SMIYC; our default).
    #[default]
    Excluded,
    /// Counted as in-distribution, as S2M's reference code does (it only
    /// asks `label == 1`): a prediction on a void pixel is a false
    /// positive.
    CountedAsInlier,
}

impl VoidPixels {
    /// The label `label` is judged as, or `None` when it is left out.
    #[inline]
    pub fn judge(self, label: u8) -> Option<bool> {
        match (label, self) {
            (ANOMALY, _) => Some(true),
            (VOID, VoidPixels::Excluded) => None,
            _ => Some(false),
        }
    }
}

/// A frame's labels, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameLabels {
    pub height: usize,
    pub width: usize,
    labels: Vec<u8>,
}

/// A label image that cannot be a ground truth.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelError {
    #[error("{height}x{width} labels need {expected} values, got {got}")]
    Size {
        height: usize,
        width: usize,
        expected: usize,
        got: usize,
    },
    #[error("label value {value} at pixel {index} is none of 0 (inlier), 1 (anomaly), 255 (void)")]
    Value { value: u8, index: usize },
}

impl FrameLabels {
    /// Labels of a `height` x `width` frame; every value must be 0, 1 or 255.
    pub fn new(height: usize, width: usize, labels: Vec<u8>) -> Result<Self, LabelError> {
        let expected = height * width;
        if labels.len() != expected {
            return Err(LabelError::Size {
                height,
                width,
                expected,
                got: labels.len(),
            });
        }
        if let Some(index) = labels
            .iter()
            .position(|&v| v != INLIER && v != ANOMALY && v != VOID)
        {
            return Err(LabelError::Value {
                value: labels[index],
                index,
            });
        }
        Ok(Self {
            height,
            width,
            labels,
        })
    }

    /// Labels from a binary mask (`true` = anomaly), no void pixel.
    pub fn from_mask(height: usize, width: usize, mask: &[bool]) -> Result<Self, LabelError> {
        Self::new(height, width, mask.iter().map(|&m| m as u8).collect())
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    pub fn into_labels(self) -> Vec<u8> {
        self.labels
    }

    /// Number of anomaly pixels.
    pub fn anomaly_pixels(&self) -> usize {
        self.labels.iter().filter(|&&v| v == ANOMALY).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn void_is_left_out_or_counted_as_inlier() {
        assert_eq!(VoidPixels::Excluded.judge(VOID), None);
        assert_eq!(VoidPixels::CountedAsInlier.judge(VOID), Some(false));
        assert_eq!(VoidPixels::Excluded.judge(ANOMALY), Some(true));
        assert_eq!(VoidPixels::CountedAsInlier.judge(INLIER), Some(false));
    }

    #[test]
    fn labels_must_fit_and_use_three_values() {
        assert!(FrameLabels::new(2, 2, vec![0, 1, 255, 0]).is_ok());
        assert_eq!(
            FrameLabels::new(2, 2, vec![0, 1, 255]),
            Err(LabelError::Size {
                height: 2,
                width: 2,
                expected: 4,
                got: 3
            })
        );
        assert_eq!(
            FrameLabels::new(1, 3, vec![0, 2, 1]),
            Err(LabelError::Value { value: 2, index: 1 })
        );
    }
}
