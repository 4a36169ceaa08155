//! Non-maximum suppression on boxes already read back from the device
//! (the caller reads them with `into_data_async().await` in the browser;
//! nothing here touches the GPU, so nothing can block the page).
//!
//! Semantics of torchvision's `nms` / `batched_nms` (used by detectron2):
//! boxes in decreasing score order, areas `(x1 - x0) * (y1 - y0)`, a box is
//! suppressed when its IoU with a kept box is strictly greater than the
//! threshold; the kept indices come back in decreasing score order. Equal
//! scores keep their input order.

/// IoU of two XYXY boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Indices into `scores` by decreasing score, ties in input order.
fn by_score(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]));
    order
}

/// Indices of the boxes kept by greedy NMS, by decreasing score.
pub fn nms(boxes: &[[f32; 4]], scores: &[f32], iou_threshold: f32) -> Vec<usize> {
    assert_eq!(boxes.len(), scores.len(), "one score per box");
    let mut keep: Vec<usize> = Vec::new();
    for i in by_score(scores) {
        if keep
            .iter()
            .all(|&k| iou(&boxes[k], &boxes[i]) <= iou_threshold)
        {
            keep.push(i);
        }
    }
    keep
}

/// NMS within each class independently; kept indices by decreasing score.
pub fn batched_nms(
    boxes: &[[f32; 4]],
    scores: &[f32],
    classes: &[usize],
    iou_threshold: f32,
) -> Vec<usize> {
    assert_eq!(boxes.len(), classes.len(), "one class per box");
    let mut keep: Vec<usize> = Vec::new();
    for i in by_score(scores) {
        let suppressed = keep
            .iter()
            .any(|&k| classes[k] == classes[i] && iou(&boxes[k], &boxes[i]) > iou_threshold);
        if !suppressed {
            keep.push(i);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_lower_scores_are_suppressed() {
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 0.0, 11.0, 10.0],
            [20.0, 20.0, 30.0, 30.0],
        ];
        // IoU(0, 1) = 90 / 110 = 0.818.
        assert_eq!(nms(&boxes, &[0.9, 0.8, 0.7], 0.7), vec![0, 2]);
        assert_eq!(nms(&boxes, &[0.9, 0.8, 0.7], 0.9), vec![0, 1, 2]);
        assert_eq!(nms(&boxes, &[0.1, 0.8, 0.7], 0.7), vec![1, 2]);
    }

    #[test]
    fn classes_do_not_suppress_each_other() {
        let boxes = [[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0]];
        assert_eq!(batched_nms(&boxes, &[0.9, 0.8], &[0, 1], 0.5), vec![0, 1]);
        assert_eq!(batched_nms(&boxes, &[0.9, 0.8], &[1, 1], 0.5), vec![0]);
    }

    #[test]
    fn empty_and_degenerate_boxes() {
        assert!(nms(&[], &[], 0.5).is_empty());
        let zero = [[5.0, 5.0, 5.0, 5.0], [5.0, 5.0, 5.0, 5.0]];
        assert_eq!(nms(&zero, &[0.5, 0.4], 0.5), vec![0, 1]);
    }
}
