//! Validation of a prompt generator on maps with known objects: box recall
//! and precision at IoU >= 0.5, the share of object-free maps left without
//! any box, and average precision at IoU 0.5 (VOC-style all-point
//! interpolation over the detections of all maps ranked by score).
//!
//! The acceptance figures of issue #4 count recall on objects of at least
//! 32x32 px; smaller objects neither count as misses nor make their
//! detections false positives.

use s2m_core::detector::Detection;
use s2m_core::detector::boxes::Xyxy;
use s2m_core::detector::nms::iou;

/// Detections and ground truth of one map.
pub struct ValidationMap {
    pub detections: Vec<Detection>,
    pub objects: Vec<Xyxy>,
}

/// Validation figures over a set of maps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValidationMetrics {
    pub maps: usize,
    /// Objects counted (at least `min_side` on both sides).
    pub objects: usize,
    /// Share of counted objects with a detection of IoU >= 0.5.
    pub recall: f32,
    /// Share of detections matching a counted object (IoU >= 0.5).
    pub precision: f32,
    /// Maps without objects.
    pub empty_maps: usize,
    /// Share of object-free maps without any detection.
    pub empty_maps_without_boxes: f32,
    /// Average precision at IoU 0.5 on counted objects.
    pub ap50: f32,
}

const IOU_THRESHOLD: f32 = 0.5;

/// The figures of `maps`, counting objects whose sides are at least
/// `min_side` pixels.
pub fn validate(maps: &[ValidationMap], min_side: f32) -> ValidationMetrics {
    let counted = |b: &Xyxy| b[2] - b[0] >= min_side && b[3] - b[1] >= min_side;
    let mut objects = 0;
    let mut found = 0;
    let mut empty_maps = 0;
    let mut clean_empty_maps = 0;
    // (score, true positive) of every detection that is not on an uncounted object.
    let mut ranked: Vec<(f32, bool)> = Vec::new();
    for map in maps {
        if map.objects.is_empty() {
            empty_maps += 1;
            clean_empty_maps += map.detections.is_empty() as usize;
        }
        let mut detections: Vec<&Detection> = map.detections.iter().collect();
        detections.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut claimed = vec![false; map.objects.len()];
        for d in detections {
            let best = map
                .objects
                .iter()
                .enumerate()
                .map(|(i, o)| (i, iou(o, &d.bbox)))
                .filter(|&(_, v)| v >= IOU_THRESHOLD)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((i, _)) if !counted(&map.objects[i]) => {}
                Some((i, _)) if !claimed[i] => {
                    claimed[i] = true;
                    ranked.push((d.score, true));
                }
                _ => ranked.push((d.score, false)),
            }
        }
        for (object, claimed) in map.objects.iter().zip(&claimed) {
            if counted(object) {
                objects += 1;
                found += *claimed as usize;
            }
        }
    }
    let true_positives = ranked.iter().filter(|r| r.1).count();
    ValidationMetrics {
        maps: maps.len(),
        objects,
        recall: ratio(found, objects),
        precision: ratio(true_positives, ranked.len()),
        empty_maps,
        empty_maps_without_boxes: ratio(clean_empty_maps, empty_maps),
        ap50: average_precision(&mut ranked, objects),
    }
}

fn ratio(a: usize, b: usize) -> f32 {
    if b == 0 { 0.0 } else { a as f32 / b as f32 }
}

/// All-point interpolated AP of ranked detections against `objects`.
fn average_precision(ranked: &mut [(f32, bool)], objects: usize) -> f32 {
    if objects == 0 {
        return 0.0;
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = Vec::with_capacity(ranked.len());
    let mut true_positives = 0;
    for (rank, &(_, hit)) in ranked.iter().enumerate() {
        true_positives += hit as usize;
        points.push((
            true_positives as f32 / objects as f32,
            true_positives as f32 / (rank + 1) as f32,
        ));
    }
    // Precision made monotone from the right, integrated over recall.
    let mut ap = 0.0;
    let mut previous_recall = 0.0;
    for i in 0..points.len() {
        let precision = points[i..].iter().map(|p| p.1).fold(0.0, f32::max);
        ap += (points[i].0 - previous_recall) * precision;
        previous_recall = points[i].0;
    }
    ap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(bbox: Xyxy, score: f32) -> Detection {
        Detection {
            bbox,
            score,
            class: 0,
        }
    }

    #[test]
    fn figures_of_a_small_case() {
        let maps = [
            ValidationMap {
                objects: vec![[0.0, 0.0, 40.0, 40.0], [100.0, 100.0, 140.0, 140.0]],
                detections: vec![
                    detection([1.0, 1.0, 40.0, 40.0], 0.9),
                    detection([0.0, 0.0, 39.0, 40.0], 0.8), // duplicate: false positive
                    detection([300.0, 300.0, 340.0, 340.0], 0.7),
                ],
            },
            ValidationMap {
                objects: vec![],
                detections: vec![],
            },
            ValidationMap {
                objects: vec![],
                detections: vec![detection([0.0, 0.0, 50.0, 50.0], 0.2)],
            },
            ValidationMap {
                // Too small to count, and its detection is no false positive.
                objects: vec![[0.0, 0.0, 10.0, 10.0]],
                detections: vec![detection([0.0, 0.0, 10.0, 10.0], 0.95)],
            },
        ];
        let m = validate(&maps, 32.0);
        assert_eq!((m.maps, m.objects, m.empty_maps), (4, 2, 2));
        assert!((m.recall - 0.5).abs() < 1e-6);
        assert!((m.precision - 0.25).abs() < 1e-6);
        assert!((m.empty_maps_without_boxes - 0.5).abs() < 1e-6);
        // One hit at rank 1 of 2 objects: AP = 0.5 * 1.0.
        assert!((m.ap50 - 0.5).abs() < 1e-6, "{m:?}");
    }
}
