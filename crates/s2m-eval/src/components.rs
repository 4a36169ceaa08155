//! SMIYC's component-level metrics (REFERENCE.md "Metrics"; Chan et al.,
//! "SegmentMeIfYouCan", NeurIPS 2021 Datasets and Benchmarks): the
//! prediction is thresholded (void pixels zeroed) and split into
//! 8-connected components, as is the ground truth's anomaly mask.
//! Predicted components smaller than the track's `min_predicted` pixels
//! are dropped, then ground-truth components smaller than
//! `min_ground_truth` become void (SMIYC's `default_instancer` in
//! `road_anomaly_benchmark/metrics/instance_segmentation.py`, whose order
//! this follows: a predicted component keeps its size from before).
//!
//! - sIoU of a ground-truth component K: with P the predicted components
//!   that touch K, |K ∩ P| / (|K ∪ P| - |P on other ground-truth
//!   components|).
//! - PPV of a predicted component: the share of its pixels on anomalies.
//! - For tau in 0.25, 0.30, ..., 0.75: TP = ground-truth components with
//!   sIoU >= tau, FN = the others, FP = predicted components with
//!   PPV < tau, summed over the dataset; F1(tau) = 2 TP / (2 TP + FN + FP),
//!   and the mean F1 is their mean.

use serde::{Deserialize, Serialize};

use crate::ground_truth::{ANOMALY, VOID};

/// The SMIYC track's size filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentFilters {
    /// Predicted components under this many pixels are dropped.
    pub min_predicted: usize,
    /// Ground-truth components under this many pixels become void.
    pub min_ground_truth: usize,
}

impl ComponentFilters {
    /// The anomaly track (RoadAnomaly21 and frames of its kind).
    pub const ANOMALY_TRACK: ComponentFilters = ComponentFilters {
        min_predicted: 500,
        min_ground_truth: 100,
    };
    /// The obstacle track (RoadObstacle21: small, distant objects).
    pub const OBSTACLE_TRACK: ComponentFilters = ComponentFilters {
        min_predicted: 50,
        min_ground_truth: 10,
    };
}

/// The taus of the F1 curve: linspace(0.25, 0.75, 11).
pub const TAUS: [f64; 11] = [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75];

/// 8-connected components of `mask` (`height` x `width`, row-major):
/// each pixel's component number (0 = background, components from 1)
/// and each component's size (index 0 unused).
pub fn label_components(mask: &[bool], height: usize, width: usize) -> (Vec<u32>, Vec<usize>) {
    // Union-find over provisional labels, one raster pass.
    let mut parent: Vec<u32> = vec![0];
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    let mut labels = vec![0u32; mask.len()];
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if !mask[i] {
                continue;
            }
            // Already visited neighbours: west, north-west, north, north-east.
            let mut neighbours = [0u32; 4];
            if x > 0 {
                neighbours[0] = labels[i - 1];
            }
            if y > 0 {
                let up = i - width;
                if x > 0 {
                    neighbours[1] = labels[up - 1];
                }
                neighbours[2] = labels[up];
                if x + 1 < width {
                    neighbours[3] = labels[up + 1];
                }
            }
            let mut root = 0;
            for &n in neighbours.iter().filter(|&&n| n != 0) {
                let r = find(&mut parent, n);
                if root == 0 {
                    root = r;
                } else if r != root {
                    let (low, high) = (root.min(r), root.max(r));
                    parent[high as usize] = low;
                    root = low;
                }
            }
            if root == 0 {
                root = parent.len() as u32;
                parent.push(root);
            }
            labels[i] = root;
        }
    }
    // Final labels, numbered 1.. in raster order of first appearance.
    let mut number = vec![0u32; parent.len()];
    let mut sizes = vec![0usize];
    for label in labels.iter_mut().filter(|l| **l != 0) {
        let root = find(&mut parent, *label) as usize;
        if number[root] == 0 {
            number[root] = sizes.len() as u32;
            sizes.push(0);
        }
        *label = number[root];
        sizes[*label as usize] += 1;
    }
    (labels, sizes)
}

/// One frame's components: the sIoU of each ground-truth component and the
/// PPV of each predicted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameComponents {
    pub ground_truth_siou: Vec<f64>,
    pub predicted_ppv: Vec<f64>,
}

impl FrameComponents {
    /// The components of `predicted` (one flag per pixel) against `labels`
    /// (0 / 1 / 255) of a `height` x `width` frame.
    pub fn compute(
        predicted: &[bool],
        labels: &[u8],
        height: usize,
        width: usize,
        filters: ComponentFilters,
    ) -> FrameComponents {
        // As SMIYC's `default_instancer`: the prediction loses its void
        // pixels, is split into components and its small ones dropped;
        // then small ground-truth components become void, and every count
        // below is over the pixels left judged.
        let pred_mask: Vec<bool> = predicted
            .iter()
            .zip(labels)
            .map(|(&p, &l)| p && l != VOID)
            .collect();
        let (pred, pred_sizes) = label_components(&pred_mask, height, width);
        let pred_kept = |p: u32| p != 0 && pred_sizes[p as usize] >= filters.min_predicted;
        let truth_mask: Vec<bool> = labels.iter().map(|&l| l == ANOMALY).collect();
        let (truth, truth_sizes) = label_components(&truth_mask, height, width);
        let truth_kept = |t: u32| t != 0 && truth_sizes[t as usize] >= filters.min_ground_truth;

        let mut judged_size = vec![0usize; pred_sizes.len()];
        let mut on_truth = vec![0usize; pred_sizes.len()];
        let mut overlap: std::collections::BTreeMap<(u32, u32), usize> = Default::default();
        for ((&t, &p), &label) in truth.iter().zip(&pred).zip(labels) {
            let judged = label != VOID && (t == 0 || truth_kept(t));
            if !judged || !pred_kept(p) {
                continue;
            }
            judged_size[p as usize] += 1;
            if t != 0 {
                on_truth[p as usize] += 1;
                *overlap.entry((t, p)).or_default() += 1;
            }
        }
        let mut touching: Vec<Vec<(u32, usize)>> = vec![Vec::new(); truth_sizes.len()];
        for (&(t, p), &n) in &overlap {
            touching[t as usize].push((p, n));
        }

        let ground_truth_siou = (1..truth_sizes.len() as u32)
            .filter(|&t| truth_kept(t))
            .map(|t| {
                let touched = &touching[t as usize];
                let intersection: usize = touched.iter().map(|&(_, n)| n).sum();
                let predicted: usize = touched.iter().map(|&(p, _)| judged_size[p as usize]).sum();
                // Pixels of the touching predictions on other ground-truth
                // components are not held against this one.
                let elsewhere: usize = touched.iter().map(|&(p, n)| on_truth[p as usize] - n).sum();
                let union = truth_sizes[t as usize] + predicted - intersection - elsewhere;
                intersection as f64 / union as f64
            })
            .collect();
        let predicted_ppv = (1..pred_sizes.len())
            .filter(|&p| judged_size[p] > 0)
            .map(|p| on_truth[p] as f64 / judged_size[p] as f64)
            .collect();
        FrameComponents {
            ground_truth_siou,
            predicted_ppv,
        }
    }
}

/// Component counts over a dataset, accumulated frame by frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentCounts {
    true_positives: [u64; TAUS.len()],
    false_negatives: [u64; TAUS.len()],
    false_positives: [u64; TAUS.len()],
    siou_sum: f64,
    ground_truth_components: u64,
    ppv_sum: f64,
    predicted_components: u64,
}

/// A method's component metrics over a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ComponentMetrics {
    /// Mean sIoU over ground-truth components (0 without any).
    pub mean_siou: f64,
    /// Mean PPV over predicted components (0 without any).
    pub mean_ppv: f64,
    /// Mean of F1(tau) over the 11 taus.
    pub mean_f1: f64,
    pub ground_truth_components: u64,
    pub predicted_components: u64,
}

impl ComponentCounts {
    pub fn add(&mut self, frame: &FrameComponents) {
        for (k, &tau) in TAUS.iter().enumerate() {
            let tp = frame
                .ground_truth_siou
                .iter()
                .filter(|&&s| s >= tau)
                .count() as u64;
            self.true_positives[k] += tp;
            self.false_negatives[k] += frame.ground_truth_siou.len() as u64 - tp;
            self.false_positives[k] +=
                frame.predicted_ppv.iter().filter(|&&p| p < tau).count() as u64;
        }
        self.siou_sum += frame.ground_truth_siou.iter().sum::<f64>();
        self.ground_truth_components += frame.ground_truth_siou.len() as u64;
        self.ppv_sum += frame.predicted_ppv.iter().sum::<f64>();
        self.predicted_components += frame.predicted_ppv.len() as u64;
    }

    /// F1(tau) for each of [`TAUS`] (0 where nothing was counted).
    pub fn f1(&self) -> Vec<f64> {
        (0..TAUS.len())
            .map(|k| {
                let tp = self.true_positives[k] as f64;
                let denominator =
                    2.0 * tp + (self.false_negatives[k] + self.false_positives[k]) as f64;
                if denominator == 0.0 {
                    0.0
                } else {
                    2.0 * tp / denominator
                }
            })
            .collect()
    }

    pub fn metrics(&self) -> ComponentMetrics {
        let mean = |sum: f64, n: u64| if n == 0 { 0.0 } else { sum / n as f64 };
        let f1 = self.f1();
        ComponentMetrics {
            mean_siou: mean(self.siou_sum, self.ground_truth_components),
            mean_ppv: mean(self.ppv_sum, self.predicted_components),
            mean_f1: f1.iter().sum::<f64>() / f1.len() as f64,
            ground_truth_components: self.ground_truth_components,
            predicted_components: self.predicted_components,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_FILTER: ComponentFilters = ComponentFilters {
        min_predicted: 0,
        min_ground_truth: 0,
    };

    fn mask(rows: &[&str]) -> Vec<bool> {
        rows.iter()
            .flat_map(|r| r.chars().map(|c| c == '#'))
            .collect()
    }

    #[test]
    fn components_are_eight_connected() {
        let m = mask(&["#..#", ".#.#", "...#", "#..."]);
        let (labels, sizes) = label_components(&m, 4, 4);
        assert_eq!(sizes, vec![0, 2, 3, 1]);
        assert_eq!(labels[0], labels[5]);
        assert_eq!(labels[3], labels[15 - 4]);
        assert_eq!(labels[12], 3);
    }

    #[test]
    fn a_u_shape_merges_into_one_component() {
        let m = mask(&["#.#", "#.#", "###"]);
        let (_, sizes) = label_components(&m, 3, 3);
        assert_eq!(sizes, vec![0, 7]);
    }

    #[test]
    fn siou_leaves_out_prediction_on_other_objects() {
        // Two ground-truth objects (columns 0-1 and 3-4 of row 0); one
        // prediction covering all of row 0 (5 pixels).
        let labels = [1, 1, 0, 1, 1];
        let pred = [true; 5];
        let f = FrameComponents::compute(&pred, &labels, 1, 5, NO_FILTER);
        // Each: I = 2, U = 2 + 5 - 2 - 2 (the other object's pixels) = 3.
        assert_eq!(f.ground_truth_siou, vec![2.0 / 3.0, 2.0 / 3.0]);
        assert_eq!(f.predicted_ppv, vec![0.8]);
    }

    #[test]
    fn void_is_zeroed_and_small_components_filtered() {
        // A 1-pixel GT object becomes void; a 1-pixel prediction is dropped.
        let labels = [1, 0, 0, 255, 1, 1, 1];
        let pred = [true, false, true, true, true, true, false];
        let filters = ComponentFilters {
            min_predicted: 2,
            min_ground_truth: 2,
        };
        let f = FrameComponents::compute(&pred, &labels, 1, 7, filters);
        // Void at 3 zeroes the prediction there: predictions {0}, {2} and
        // {4, 5}; the first two are too small.
        assert_eq!(f.ground_truth_siou, vec![2.0 / 3.0]);
        assert_eq!(f.predicted_ppv, vec![1.0]);
    }

    #[test]
    fn f1_counts_over_taus() {
        let mut counts = ComponentCounts::default();
        counts.add(&FrameComponents {
            ground_truth_siou: vec![0.5, 0.1],
            predicted_ppv: vec![0.9, 0.3],
        });
        let f1 = counts.f1();
        // tau 0.25: TP 1, FN 1, FP 0 -> 2/3; tau 0.35..0.5: FP 1 -> 0.5;
        // tau 0.55..: TP 0 -> 0.
        assert!((f1[0] - 2.0 / 3.0).abs() < 1e-12);
        assert!((f1[5] - 0.5).abs() < 1e-12);
        assert_eq!(f1[6], 0.0);
        let m = counts.metrics();
        assert_eq!(m.mean_siou, 0.3);
        assert_eq!(m.mean_ppv, 0.6);
        assert_eq!(m.ground_truth_components, 2);
    }
}
