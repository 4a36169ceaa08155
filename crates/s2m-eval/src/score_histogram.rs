//! SMIYC's pixel metrics (REFERENCE.md "Metrics"): average precision
//! (scikit-learn's `average_precision_score`: the sum over thresholds of
//! recall steps times precision), the false-positive rate at 95 %
//! true-positive rate and the area under the ROC curve, over every judged
//! pixel of a dataset.
//!
//! Streaming: a [`ScoreHistogram`] counts anomaly and inlier pixels per
//! score bin, so memory does not grow with the dataset and histograms of
//! shards add up exactly. The bins are the scores' f32 bit patterns
//! without their 12 lowest mantissa bits (2^20 bins, each 2^-11 ≈ 4.9e-4
//! of its value wide, whatever the range), so any finite score of any
//! scale is binned without knowing the range first. Scores in one bin
//! count as ties. Against scikit-learn's exact values on the fixtures'
//! random and adversarial scores (tests/sklearn_fixtures.rs, bound 1e-3)
//! the largest error is 6.6e-4, on a few thousand scores where each bin's
//! ties weigh most; a frame of a million pixels weighs them less.

use serde::{Deserialize, Serialize};

use crate::ground_truth::VoidPixels;

/// Mantissa bits dropped from a score's bit pattern to form its bin.
const DROPPED_BITS: u32 = 12;
const BINS: usize = 1 << (32 - DROPPED_BITS);

/// `score`'s bits as an unsigned number that orders as the floats do.
fn ordered_bits(score: f32) -> u32 {
    // -0.0 and 0.0 are the same score.
    let bits = if score == 0.0 { 0 } else { score.to_bits() };
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

/// The bin of `score`.
fn bin_of(score: f32) -> usize {
    (ordered_bits(score) >> DROPPED_BITS) as usize
}

/// The lowest score bin `bin` can hold (negative infinity for the bin of
/// the lowest finite scores).
pub fn bin_floor(bin: usize) -> f32 {
    let ordered = (bin as u32) << DROPPED_BITS;
    let bits = if ordered & 0x8000_0000 != 0 {
        ordered & 0x7fff_ffff
    } else {
        !ordered
    };
    let floor = f32::from_bits(bits);
    if floor.is_nan() {
        f32::NEG_INFINITY
    } else {
        floor
    }
}

/// Anomaly and inlier pixel counts per score bin.
#[derive(Clone, PartialEq)]
pub struct ScoreHistogram {
    anomaly: Vec<u64>,
    inlier: Vec<u64>,
}

impl Default for ScoreHistogram {
    fn default() -> Self {
        ScoreHistogram {
            anomaly: vec![0; BINS],
            inlier: vec![0; BINS],
        }
    }
}

impl std::fmt::Debug for ScoreHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoreHistogram")
            .field("anomaly_pixels", &self.anomaly.iter().sum::<u64>())
            .field("inlier_pixels", &self.inlier.iter().sum::<u64>())
            .finish()
    }
}

/// The pixel metrics of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PixelMetrics {
    pub average_precision: f64,
    pub fpr_at_95_tpr: f64,
    pub auroc: f64,
    /// The best pixel F1 over thresholds, and the threshold reaching it
    /// (prediction = score >= threshold): SMIYC's component metrics
    /// threshold there.
    pub best_f1: f64,
    pub best_f1_threshold: f32,
}

/// One point of the precision-recall / ROC curves: the pixels scoring at
/// least `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    pub threshold: f32,
    pub true_positives: u64,
    pub false_positives: u64,
}

impl ScoreHistogram {
    /// Counts the judged pixels of a frame; non-finite scores are the
    /// caller's to refuse (they are skipped here).
    pub fn add(&mut self, scores: &[f32], labels: &[u8], void: VoidPixels) {
        for (&score, &label) in scores.iter().zip(labels) {
            let Some(anomaly) = void.judge(label) else {
                continue;
            };
            if !score.is_finite() {
                continue;
            }
            let bin = bin_of(score);
            if anomaly {
                self.anomaly[bin] += 1;
            } else {
                self.inlier[bin] += 1;
            }
        }
    }

    /// Adds another histogram's counts (a shard's).
    pub fn merge(&mut self, other: &ScoreHistogram) {
        for (a, b) in self.anomaly.iter_mut().zip(&other.anomaly) {
            *a += b;
        }
        for (a, b) in self.inlier.iter_mut().zip(&other.inlier) {
            *a += b;
        }
    }

    pub fn anomaly_pixels(&self) -> u64 {
        self.anomaly.iter().sum()
    }

    pub fn inlier_pixels(&self) -> u64 {
        self.inlier.iter().sum()
    }

    /// The curve from the highest bin down, one point per non-empty bin.
    pub fn curve(&self) -> Vec<CurvePoint> {
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut points = Vec::new();
        for bin in (0..BINS).rev() {
            let (a, i) = (self.anomaly[bin], self.inlier[bin]);
            if a + i == 0 {
                continue;
            }
            tp += a;
            fp += i;
            points.push(CurvePoint {
                threshold: bin_floor(bin),
                true_positives: tp,
                false_positives: fp,
            });
        }
        points
    }

    /// AP, FPR at 95 % TPR, AUROC and the best F1; `None` when the
    /// dataset lacks anomaly or inlier pixels (the metrics are undefined).
    pub fn metrics(&self) -> Option<PixelMetrics> {
        let positives = self.anomaly_pixels();
        let negatives = self.inlier_pixels();
        if positives == 0 || negatives == 0 {
            return None;
        }
        let (p, n) = (positives as f64, negatives as f64);
        let mut average_precision = 0.0;
        let mut auroc = 0.0;
        let mut fpr_at_95_tpr = None;
        let (mut best_f1, mut best_f1_threshold) = (0.0, f32::INFINITY);
        let (mut last_recall, mut last_fpr) = (0.0, 0.0);
        for point in self.curve() {
            let tp = point.true_positives as f64;
            let fp = point.false_positives as f64;
            let recall = tp / p;
            let fpr = fp / n;
            let precision = tp / (tp + fp);
            average_precision += (recall - last_recall) * precision;
            auroc += (fpr - last_fpr) * (recall + last_recall) / 2.0;
            if fpr_at_95_tpr.is_none() && recall >= 0.95 {
                fpr_at_95_tpr = Some(fpr);
            }
            let f1 = 2.0 * tp / (tp + fp + p);
            if f1 > best_f1 {
                (best_f1, best_f1_threshold) = (f1, point.threshold);
            }
            (last_recall, last_fpr) = (recall, fpr);
        }
        Some(PixelMetrics {
            average_precision,
            fpr_at_95_tpr: fpr_at_95_tpr.unwrap_or(1.0),
            auroc,
            best_f1,
            best_f1_threshold,
        })
    }

    /// The non-empty bins as (bin, anomaly, inlier) counts: the form
    /// shards are written in.
    pub fn to_sparse(&self) -> SparseHistogram {
        SparseHistogram {
            bins: (0..BINS)
                .filter(|&b| self.anomaly[b] + self.inlier[b] > 0)
                .map(|b| (b as u32, self.anomaly[b], self.inlier[b]))
                .collect(),
        }
    }

    /// Pixel counts of `groups` equal score intervals over `range`
    /// (lowest, highest), anomaly and inlier apart, for the report's
    /// histograms (each bin goes where its lowest score falls).
    pub fn coarse(&self, range: (f32, f32), groups: usize) -> (Vec<u64>, Vec<u64>) {
        let mut anomaly = vec![0; groups];
        let mut inlier = vec![0; groups];
        let span = (range.1 - range.0).max(f32::MIN_POSITIVE) as f64;
        for bin in 0..BINS {
            let (a, i) = (self.anomaly[bin], self.inlier[bin]);
            if a + i == 0 {
                continue;
            }
            let x = ((bin_floor(bin) as f64 - range.0 as f64) / span).clamp(0.0, 1.0);
            let g = ((x * groups as f64) as usize).min(groups - 1);
            anomaly[g] += a;
            inlier[g] += i;
        }
        (anomaly, inlier)
    }
}

/// A histogram's non-empty bins, for files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseHistogram {
    pub bins: Vec<(u32, u64, u64)>,
}

/// A sparse histogram naming a bin that does not exist.
#[derive(Debug, thiserror::Error)]
#[error("histogram bin {0} is out of range (0..{BINS})")]
pub struct BinOutOfRange(pub u32);

impl TryFrom<&SparseHistogram> for ScoreHistogram {
    type Error = BinOutOfRange;

    fn try_from(sparse: &SparseHistogram) -> Result<Self, BinOutOfRange> {
        let mut histogram = ScoreHistogram::default();
        for &(bin, a, i) in &sparse.bins {
            let b = bin as usize;
            if b >= BINS {
                return Err(BinOutOfRange(bin));
            }
            histogram.anomaly[b] += a;
            histogram.inlier[b] += i;
        }
        Ok(histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ground_truth::{ANOMALY as A, INLIER as I, VOID as V};

    fn histogram(scores: &[f32], labels: &[u8]) -> ScoreHistogram {
        let mut h = ScoreHistogram::default();
        h.add(scores, labels, VoidPixels::Excluded);
        h
    }

    #[test]
    fn bins_keep_the_order_of_scores() {
        let scores = [-1e30, -3.5, -1e-20, 0.0, 1e-30, 0.25, 1.0, 7.0, 1e30];
        for pair in scores.windows(2) {
            assert!(bin_of(pair[0]) < bin_of(pair[1]), "{pair:?}");
        }
        assert_eq!(bin_of(-0.0), bin_of(0.0));
        for &s in &scores {
            let floor = bin_floor(bin_of(s));
            assert!(floor <= s, "{s}: floor {floor}");
            assert!((s - floor).abs() <= s.abs() * 4.9e-4, "{s}: floor {floor}");
        }
    }

    #[test]
    fn a_perfect_ranking_has_ap_and_auroc_one() {
        let m = histogram(&[0.1, 0.2, 0.8, 0.9], &[I, I, A, A])
            .metrics()
            .unwrap();
        assert_eq!(m.average_precision, 1.0);
        assert_eq!(m.auroc, 1.0);
        assert_eq!(m.fpr_at_95_tpr, 0.0);
        assert_eq!(m.best_f1, 1.0);
        assert_eq!(m.best_f1_threshold, bin_floor(bin_of(0.8)));
    }

    #[test]
    fn hand_computed_ranking() {
        // Descending: 0.9 A, 0.8 I, 0.7 A, 0.1 I.
        // Points: (R 0.5, P 1), (R 0.5, P 0.5), (R 1, P 2/3), (R 1, P 0.5).
        // AP = 0.5 * 1 + 0.5 * 2/3; ROC: (0, .5), (.5, .5), (.5, 1), (1, 1):
        // AUROC = 0.75; TPR >= 95 % first at FPR 0.5.
        let m = histogram(&[0.9, 0.8, 0.7, 0.1, 0.5], &[A, I, A, I, V])
            .metrics()
            .unwrap();
        assert!((m.average_precision - (0.5 + 1.0 / 3.0)).abs() < 1e-12);
        assert!((m.auroc - 0.75).abs() < 1e-12);
        assert_eq!(m.fpr_at_95_tpr, 0.5);
        assert!((m.best_f1 - 0.8).abs() < 1e-12);
    }

    #[test]
    fn ties_count_as_one_step() {
        // All pixels tie: one point, precision 0.5 at recall 1.
        let m = histogram(&[0.3; 4], &[A, I, A, I]).metrics().unwrap();
        assert_eq!(m.average_precision, 0.5);
        assert_eq!(m.auroc, 0.5);
        assert_eq!(m.fpr_at_95_tpr, 1.0);
    }

    #[test]
    fn metrics_need_both_classes() {
        assert!(histogram(&[0.1, 0.2], &[I, I]).metrics().is_none());
        assert!(histogram(&[0.1, 0.2], &[A, V]).metrics().is_none());
    }

    #[test]
    fn shards_add_up_and_survive_the_sparse_form() {
        let a = histogram(&[0.9, 0.1], &[A, I]);
        let b = histogram(&[0.7, -2.0], &[I, A]);
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged, histogram(&[0.9, 0.1, 0.7, -2.0], &[A, I, I, A]));
        let back = ScoreHistogram::try_from(&merged.to_sparse()).unwrap();
        assert_eq!(back, merged);
        assert!(
            ScoreHistogram::try_from(&SparseHistogram {
                bins: vec![(u32::MAX, 1, 0)]
            })
            .is_err()
        );
    }
}
