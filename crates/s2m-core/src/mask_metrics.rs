//! Comparing masks with a ground truth, as in the paper's figure 2: the
//! IoU of S2M's threshold-free mask against the IoU that plain
//! thresholding of the score map reaches at each threshold (REFERENCE.md,
//! metric definitions: IoU = |A and B| / |A or B| over pixels).

/// IoU of two masks of the same pixels; `None` when both are empty (or
/// the sizes differ).
pub fn mask_iou(a: &[bool], b: &[bool]) -> Option<f32> {
    if a.len() != b.len() {
        return None;
    }
    let (mut both, mut either) = (0usize, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        both += (x && y) as usize;
        either += (x || y) as usize;
    }
    (either > 0).then(|| both as f32 / either as f32)
}

/// `scores >= threshold`, the plain thresholding S2M does without.
pub fn threshold_mask(scores: &[f32], threshold: f32) -> Vec<bool> {
    scores.iter().map(|&s| s >= threshold).collect()
}

/// `steps` thresholds evenly from the lowest to the highest finite score
/// (both included), and the IoU with `truth` of thresholding at each
/// (0 where both masks are empty). Empty when there is no finite score.
pub fn threshold_iou_curve(scores: &[f32], truth: &[bool], steps: usize) -> Vec<(f32, f32)> {
    let finite = scores.iter().copied().filter(|s| s.is_finite());
    let (low, high) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), s| {
        (l.min(s), h.max(s))
    });
    if low > high || steps == 0 {
        return Vec::new();
    }
    (0..steps)
        .map(|i| {
            let t = if steps == 1 {
                low
            } else {
                low + (high - low) * i as f32 / (steps - 1) as f32
            };
            let iou = mask_iou(&threshold_mask(scores, t), truth).unwrap_or(0.0);
            (t, iou)
        })
        .collect()
}

/// `values` (`from` = (height, width), row-major) resampled to `to` by the
/// nearest pixel centre: score maps and label images onto the model's
/// frame.
pub fn resample_nearest<T: Copy>(values: &[T], from: (usize, usize), to: (usize, usize)) -> Vec<T> {
    let (fh, fw) = from;
    let (th, tw) = to;
    let source = |t: usize, f: usize, n: usize| {
        (((t as f64 + 0.5) * f as f64 / n as f64) as usize).min(f - 1)
    };
    (0..th)
        .flat_map(|y| {
            let sy = source(y, fh, th);
            (0..tw).map(move |x| values[sy * fw + source(x, fw, tw)])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_counts_shared_over_covered_pixels() {
        let a = [true, true, false, false];
        let b = [false, true, true, false];
        assert_eq!(mask_iou(&a, &b), Some(1.0 / 3.0));
        assert_eq!(mask_iou(&a, &a), Some(1.0));
        assert_eq!(mask_iou(&[false; 3], &[false; 3]), None);
        assert_eq!(mask_iou(&a, &b[..3]), None);
    }

    #[test]
    fn the_curve_peaks_where_thresholding_matches_the_truth() {
        // An object scoring 5..6 on a background of 0..3.
        let scores = [0.0, 1.0, 3.0, 5.0, 6.0, 2.0];
        let truth = [false, false, false, true, true, false];
        let curve = threshold_iou_curve(&scores, &truth, 7);
        assert_eq!(curve.len(), 7);
        assert_eq!(curve[0], (0.0, 2.0 / 6.0));
        assert_eq!(curve[6], (6.0, 0.5));
        let best = curve.iter().map(|c| c.1).fold(0.0, f32::max);
        assert_eq!(best, 1.0, "{curve:?}");
        assert_eq!(curve.iter().find(|c| c.1 == 1.0).unwrap().0, 4.0);
    }

    #[test]
    fn a_map_without_finite_scores_has_no_curve() {
        assert!(threshold_iou_curve(&[f32::NAN], &[true], 5).is_empty());
        assert!(threshold_iou_curve(&[], &[], 5).is_empty());
    }

    #[test]
    fn nearest_resampling_keeps_blocks() {
        let values = [1, 2, 3, 4];
        assert_eq!(
            resample_nearest(&values, (2, 2), (4, 4)),
            [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]
        );
        assert_eq!(resample_nearest(&values, (2, 2), (1, 1)), [4]);
    }
}
