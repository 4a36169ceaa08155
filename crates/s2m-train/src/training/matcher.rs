//! Matching predicted boxes (anchors or proposals) to ground-truth boxes,
//! as detectron2's `modeling/matcher.py::Matcher`: each prediction takes
//! the ground truth of highest IoU; its label follows from that IoU and the
//! thresholds; with `allow_low_quality_matches`, every ground truth also
//! claims the predictions of its highest IoU (even below the foreground
//! threshold), so no object is left without a positive.

use s2m_core::detector::boxes::Xyxy;
use s2m_core::detector::nms::iou;

/// What a prediction was matched as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchLabel {
    Background,
    /// Between the thresholds: left out of the loss.
    Ignored,
    Foreground,
}

/// A prediction's match: the ground truth of highest IoU (meaningless for
/// background without any ground truth) and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub ground_truth: usize,
    pub label: MatchLabel,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    /// IoU below which a prediction is background.
    pub background_below: f32,
    /// IoU from which a prediction is foreground (between: ignored).
    pub foreground_from: f32,
    pub allow_low_quality_matches: bool,
}

impl Matcher {
    /// detectron2's RPN matcher: IoU < 0.3 background, >= 0.7 foreground,
    /// low-quality matches allowed.
    pub fn rpn() -> Self {
        Self {
            background_below: 0.3,
            foreground_from: 0.7,
            allow_low_quality_matches: true,
        }
    }

    /// detectron2's ROI-head matcher: IoU >= 0.5 foreground, else background.
    pub fn roi_heads() -> Self {
        Self {
            background_below: 0.5,
            foreground_from: 0.5,
            allow_low_quality_matches: false,
        }
    }

    /// The match of every prediction.
    pub fn matches(&self, ground_truth: &[Xyxy], predictions: &[Xyxy]) -> Vec<Match> {
        if ground_truth.is_empty() {
            return vec![
                Match {
                    ground_truth: 0,
                    label: MatchLabel::Background,
                };
                predictions.len()
            ];
        }
        let mut best_for_gt = vec![0.0f32; ground_truth.len()];
        let mut matches: Vec<Match> = predictions
            .iter()
            .map(|prediction| {
                let (mut best, mut best_iou) = (0, f32::NEG_INFINITY);
                for (g, gt) in ground_truth.iter().enumerate() {
                    let value = iou(gt, prediction);
                    best_for_gt[g] = best_for_gt[g].max(value);
                    if value > best_iou {
                        (best, best_iou) = (g, value);
                    }
                }
                let label = if best_iou < self.background_below {
                    MatchLabel::Background
                } else if best_iou < self.foreground_from {
                    MatchLabel::Ignored
                } else {
                    MatchLabel::Foreground
                };
                Match {
                    ground_truth: best,
                    label,
                }
            })
            .collect();
        if self.allow_low_quality_matches {
            // detectron2 sets the label only (the matched ground truth stays
            // the prediction's best one), for predictions tied at a ground
            // truth's best IoU; a ground truth overlapping nothing claims none.
            for (p, prediction) in predictions.iter().enumerate() {
                let claimed = ground_truth
                    .iter()
                    .zip(&best_for_gt)
                    .any(|(gt, &best)| best > 0.0 && iou(gt, prediction) == best);
                if claimed {
                    matches[p].label = MatchLabel::Foreground;
                }
            }
        }
        matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_thresholds() {
        let gt = [[0.0, 0.0, 10.0, 10.0]];
        let predictions = [
            [0.0, 0.0, 10.0, 10.0],   // IoU 1
            [0.0, 0.0, 10.0, 20.0],   // IoU 0.5
            [0.0, 0.0, 10.0, 50.0],   // IoU 0.2
            [50.0, 50.0, 60.0, 60.0], // IoU 0
        ];
        let labels: Vec<MatchLabel> = Matcher::rpn()
            .matches(&gt, &predictions)
            .iter()
            .map(|m| m.label)
            .collect();
        use MatchLabel::*;
        assert_eq!(labels, [Foreground, Ignored, Background, Background]);
    }

    #[test]
    fn low_quality_matches_give_every_object_a_positive() {
        let gt = [[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 104.0, 104.0]];
        // The small object's best anchor has IoU 0.25 only.
        let predictions = [[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 108.0, 108.0]];
        let matches = Matcher::rpn().matches(&gt, &predictions);
        assert_eq!(matches[1].label, MatchLabel::Foreground);
        assert_eq!(matches[1].ground_truth, 1);
        let strict = Matcher {
            allow_low_quality_matches: false,
            ..Matcher::rpn()
        };
        assert_eq!(
            strict.matches(&gt, &predictions)[1].label,
            MatchLabel::Background
        );
    }

    #[test]
    fn without_ground_truth_everything_is_background() {
        let matches = Matcher::roi_heads().matches(&[], &[[0.0, 0.0, 1.0, 1.0]]);
        assert_eq!(matches[0].label, MatchLabel::Background);
    }
}
