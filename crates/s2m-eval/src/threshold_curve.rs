//! S2M's component-free metrics (REFERENCE.md "Metrics", the paper's
//! Table 1 and figures 2 and 10): per image, the prediction `score > t`
//! for the 101 thresholds t = 0, 0.01, ..., 1 on the normalised score,
//! with IoU(t) = I / U and F1(t) = 2 I / (I + U) against the anomaly
//! pixels; then averaged over images. A method's best IoU is the maximum
//! of the mean IoU curve, AuIoU its trapezoid area over [0, 1], mean F1 the
//! mean of the mean F1 curve.
//!
//! Raw scores are normalised by a [`ScoreRange`]: threshold t stands for
//! `low + t * (high - low)` (computed in f64, as NumPy promotes S2M's
//! reference code does). A method whose output already lies in [0, 1]
//! (S2M's confidence map) takes [`ScoreRange::UNIT`]; a baseline takes
//! the minimum and maximum of its scores over the dataset.

use serde::{Deserialize, Serialize};

use crate::ground_truth::VoidPixels;

/// How many thresholds: 0, 0.01, ..., 1.
pub const THRESHOLD_STEPS: usize = 101;

/// The normalised threshold of step `i`.
pub fn normalised_threshold(i: usize) -> f64 {
    i as f64 / (THRESHOLD_STEPS - 1) as f64
}

/// The raw scores that normalised thresholds 0 and 1 stand for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreRange {
    pub low: f64,
    pub high: f64,
}

impl ScoreRange {
    /// Scores that are already normalised (S2M's confidence).
    pub const UNIT: ScoreRange = ScoreRange {
        low: 0.0,
        high: 1.0,
    };

    /// The range of the finite values of `scores`, `None` without one.
    pub fn of(scores: &[f32]) -> Option<ScoreRange> {
        let mut range: Option<ScoreRange> = None;
        for &s in scores.iter().filter(|s| s.is_finite()) {
            range = Some(range.map_or(
                ScoreRange {
                    low: s as f64,
                    high: s as f64,
                },
                |r| r.including(s as f64),
            ));
        }
        range
    }

    /// This range grown to hold `value`.
    pub fn including(self, value: f64) -> ScoreRange {
        ScoreRange {
            low: self.low.min(value),
            high: self.high.max(value),
        }
    }

    /// The smallest range holding both.
    pub fn union(self, other: ScoreRange) -> ScoreRange {
        self.including(other.low).including(other.high)
    }

    /// The raw threshold of step `i`.
    pub fn threshold(&self, i: usize) -> f64 {
        normalised_threshold(i) * (self.high - self.low) + self.low
    }
}

/// IoU(t) and F1(t) of one image at the 101 thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameCurve {
    pub iou: Vec<f64>,
    pub f1: Vec<f64>,
}

impl FrameCurve {
    /// The curve of `scores` against `labels` (same length, row-major):
    /// at threshold i, prediction = score > `range.threshold(i)`. IoU and
    /// F1 are 0 where prediction and ground truth are both empty.
    pub fn compute(scores: &[f32], labels: &[u8], void: VoidPixels, range: ScoreRange) -> Self {
        let thresholds: Vec<f64> = (0..THRESHOLD_STEPS).map(|i| range.threshold(i)).collect();
        // passed[k]: pixels above exactly the first k thresholds (the
        // thresholds grow, so a pixel above threshold i is above every
        // lower one); hit[k]: those of them that are anomalies.
        let mut passed = vec![0u64; THRESHOLD_STEPS + 1];
        let mut hit = vec![0u64; THRESHOLD_STEPS + 1];
        let mut anomalies = 0u64;
        for (&score, &label) in scores.iter().zip(labels) {
            let Some(anomaly) = void.judge(label) else {
                continue;
            };
            let k = thresholds.partition_point(|&t| (score as f64) > t);
            passed[k] += 1;
            hit[k] += anomaly as u64;
            anomalies += anomaly as u64;
        }
        let (mut predicted, mut intersection) = (0u64, 0u64);
        let mut iou = vec![0.0; THRESHOLD_STEPS];
        let mut f1 = vec![0.0; THRESHOLD_STEPS];
        for i in (0..THRESHOLD_STEPS).rev() {
            // Pixels above threshold i passed at least i + 1 thresholds.
            predicted += passed[i + 1];
            intersection += hit[i + 1];
            let union = anomalies + predicted - intersection;
            if union > 0 {
                iou[i] = intersection as f64 / union as f64;
                f1[i] = 2.0 * intersection as f64 / (intersection + union) as f64;
            }
        }
        FrameCurve { iou, f1 }
    }
}

/// IoU of a binary prediction (S2M's threshold-free mask: confidence > 0)
/// against `labels`; 0 when both are empty.
pub fn mask_iou(predicted: impl IntoIterator<Item = bool>, labels: &[u8], void: VoidPixels) -> f64 {
    let (mut intersection, mut union) = (0u64, 0u64);
    for (p, &label) in predicted.into_iter().zip(labels) {
        let Some(anomaly) = void.judge(label) else {
            continue;
        };
        intersection += (p && anomaly) as u64;
        union += (p || anomaly) as u64;
    }
    if union == 0 {
        0.0
    } else {
        intersection as f64 / union as f64
    }
}

/// Plain thresholding of one frame over its own score range, as the
/// page plots it: (raw threshold, IoU) at the 101 thresholds; empty
/// without a finite score.
pub fn frame_iou_curve(scores: &[f32], labels: &[u8], void: VoidPixels) -> Vec<(f32, f32)> {
    let Some(range) = ScoreRange::of(scores) else {
        return Vec::new();
    };
    let curve = FrameCurve::compute(scores, labels, void, range);
    curve
        .iou
        .iter()
        .enumerate()
        .map(|(i, &iou)| (range.threshold(i) as f32, iou as f32))
        .collect()
}

/// The mean of per-image curves over a dataset, accumulated image by image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanCurve {
    iou_sum: Vec<f64>,
    f1_sum: Vec<f64>,
    images: usize,
}

impl Default for MeanCurve {
    fn default() -> Self {
        MeanCurve {
            iou_sum: vec![0.0; THRESHOLD_STEPS],
            f1_sum: vec![0.0; THRESHOLD_STEPS],
            images: 0,
        }
    }
}

/// A method's component-free metrics over a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMetrics {
    /// The maximum of the mean IoU curve, and its normalised threshold.
    pub best_iou: f64,
    pub best_threshold: f64,
    /// The trapezoid area under the mean IoU curve over [0, 1].
    pub au_iou: f64,
    /// The mean of the mean F1 curve over the 101 thresholds.
    pub mean_f1: f64,
}

impl MeanCurve {
    pub fn add(&mut self, curve: &FrameCurve) {
        for (sum, v) in self.iou_sum.iter_mut().zip(&curve.iou) {
            *sum += v;
        }
        for (sum, v) in self.f1_sum.iter_mut().zip(&curve.f1) {
            *sum += v;
        }
        self.images += 1;
    }

    pub fn images(&self) -> usize {
        self.images
    }

    /// Mean IoU(t) over the images (zeros before the first).
    pub fn iou(&self) -> Vec<f64> {
        let n = self.images.max(1) as f64;
        self.iou_sum.iter().map(|s| s / n).collect()
    }

    /// Mean F1(t) over the images.
    pub fn f1(&self) -> Vec<f64> {
        let n = self.images.max(1) as f64;
        self.f1_sum.iter().map(|s| s / n).collect()
    }

    pub fn metrics(&self) -> ThresholdMetrics {
        let iou = self.iou();
        let (best_step, best_iou) =
            iou.iter()
                .copied()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, v)| {
                    if v > best.1 { (i, v) } else { best }
                });
        let step = normalised_threshold(1);
        let au_iou = iou.windows(2).map(|w| (w[0] + w[1]) / 2.0 * step).sum();
        let f1 = self.f1();
        ThresholdMetrics {
            best_iou,
            best_threshold: normalised_threshold(best_step),
            au_iou,
            mean_f1: f1.iter().sum::<f64>() / f1.len() as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ground_truth::{ANOMALY as A, INLIER as I, VOID as V};

    #[test]
    fn thresholds_split_where_the_scores_are_strictly_above() {
        // Scores 0, 0.5, 1 on a unit range; the anomaly is the 0.5 pixel.
        let curve = FrameCurve::compute(
            &[0.0, 0.5, 1.0],
            &[I, A, I],
            VoidPixels::Excluded,
            ScoreRange::UNIT,
        );
        // t = 0: {0.5, 1} predicted: I = 1, U = 2.
        assert_eq!(curve.iou[0], 0.5);
        assert_eq!(curve.f1[0], 2.0 / 3.0);
        // t = 0.49: the same; t = 0.5: only the 1.0 pixel (0.5 > 0.5 fails).
        assert_eq!(curve.iou[49], 0.5);
        assert_eq!(curve.iou[50], 0.0);
        // t = 1: nothing predicted, the anomaly is missed: U = 1, I = 0.
        assert_eq!(curve.iou[100], 0.0);
    }

    #[test]
    fn raw_scores_are_normalised_by_the_range() {
        let range = ScoreRange {
            low: -10.0,
            high: 10.0,
        };
        // t = 0.5 stands for 0: scores 1 and 5 above it.
        let curve = FrameCurve::compute(&[-3.0, 1.0, 5.0], &[I, A, A], VoidPixels::Excluded, range);
        assert_eq!(curve.iou[50], 1.0);
        assert_eq!(curve.iou[55], 0.5); // t_real = 1: only the 5.
        assert_eq!(curve.iou[0], 2.0 / 3.0);
    }

    #[test]
    fn void_pixels_are_left_out_or_count_against() {
        let scores = [0.9, 0.9, 0.1];
        let labels = [A, V, I];
        let excluded =
            FrameCurve::compute(&scores, &labels, VoidPixels::Excluded, ScoreRange::UNIT);
        let counted = FrameCurve::compute(
            &scores,
            &labels,
            VoidPixels::CountedAsInlier,
            ScoreRange::UNIT,
        );
        assert_eq!(excluded.iou[50], 1.0);
        assert_eq!(counted.iou[50], 0.5);
        assert_eq!(
            mask_iou([true, true, false], &labels, VoidPixels::Excluded),
            1.0
        );
        assert_eq!(
            mask_iou([true, true, false], &labels, VoidPixels::CountedAsInlier),
            0.5
        );
    }

    #[test]
    fn empty_prediction_and_truth_give_zero() {
        let curve =
            FrameCurve::compute(&[0.0, 0.0], &[I, I], VoidPixels::Excluded, ScoreRange::UNIT);
        assert!(curve.iou.iter().all(|&v| v == 0.0));
        assert_eq!(mask_iou([false, false], &[I, I], VoidPixels::Excluded), 0.0);
    }

    #[test]
    fn the_mean_curve_gives_best_iou_auiou_and_mean_f1() {
        let mut mean = MeanCurve::default();
        let mut a = FrameCurve {
            iou: vec![0.0; 101],
            f1: vec![0.0; 101],
        };
        let mut b = a.clone();
        a.iou[10] = 1.0;
        b.iou[10] = 0.5;
        b.iou[11] = 0.8;
        a.f1 = vec![1.0; 101];
        mean.add(&a);
        mean.add(&b);
        let m = mean.metrics();
        assert_eq!(m.best_iou, 0.75);
        assert_eq!(m.best_threshold, 0.1);
        // Trapezoids: 0.75 and 0.4 as peaks: (0.75 + (0.75 + 0.4) + 0.4) / 2 * 0.01.
        assert!((m.au_iou - (0.75 + 1.15 + 0.4) / 2.0 * 0.01).abs() < 1e-12);
        assert_eq!(m.mean_f1, 0.5);
        assert_eq!(mean.images(), 2);
    }

    #[test]
    fn a_frame_curve_runs_over_its_own_range() {
        let curve = frame_iou_curve(&[2.0, 4.0, 6.0], &[I, A, A], VoidPixels::Excluded);
        assert_eq!(curve.len(), THRESHOLD_STEPS);
        assert_eq!(curve[0], (2.0, 1.0));
        assert_eq!(curve[50], (4.0, 0.5));
        assert_eq!(curve[100], (6.0, 0.0));
        assert!(frame_iou_curve(&[f32::NAN], &[A], VoidPixels::Excluded).is_empty());
    }

    #[test]
    fn a_frame_range_holds_its_finite_scores() {
        assert_eq!(
            ScoreRange::of(&[3.0, f32::NAN, -1.0, f32::INFINITY]),
            Some(ScoreRange {
                low: -1.0,
                high: 3.0
            })
        );
        assert_eq!(ScoreRange::of(&[f32::NAN]), None);
    }
}
