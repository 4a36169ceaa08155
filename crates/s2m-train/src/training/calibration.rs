//! The score threshold a trained generator ships with: the lowest one that
//! leaves a target share of object-free calibration maps without any box
//! (issue #4 asks for no box on at least 95 % of maps without objects).
//!
//! The generator runs once on the calibration maps at detectron2's low
//! threshold (0.05); raising the threshold afterwards keeps exactly the
//! boxes a run at the higher threshold would give, since a box is only
//! ever suppressed (NMS) or crowded out (top-k) by boxes of higher score.
//! Calibration maps must be distinct from the validation maps that report
//! the result.

use super::validation::ValidationMap;

impl ValidationMap {
    /// The same map keeping only detections scoring above `threshold`.
    pub fn above(&self, threshold: f32) -> ValidationMap {
        ValidationMap {
            detections: self
                .detections
                .iter()
                .filter(|d| d.score > threshold)
                .cloned()
                .collect(),
            objects: self.objects.clone(),
        }
    }
}

/// The lowest score threshold, at least `floor`, above which no detection
/// remains on at least `clean_share` of the object-free maps among `maps`;
/// `None` when there are no object-free maps to calibrate on.
pub fn calibrate_score_threshold(
    maps: &[ValidationMap],
    clean_share: f32,
    floor: f32,
) -> Option<f32> {
    // The best score on each object-free map: the map is clean for every
    // threshold at or above it.
    let mut best_scores: Vec<f32> = maps
        .iter()
        .filter(|m| m.objects.is_empty())
        .map(|m| m.detections.iter().map(|d| d.score).fold(floor, f32::max))
        .collect();
    if best_scores.is_empty() {
        return None;
    }
    best_scores.sort_by(f32::total_cmp);
    let needed = (clean_share.clamp(0.0, 1.0) * best_scores.len() as f32).ceil() as usize;
    Some(best_scores[needed.clamp(1, best_scores.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use s2m_core::detector::Detection;

    fn map_with_scores(scores: &[f32], objects: usize) -> ValidationMap {
        ValidationMap {
            detections: scores
                .iter()
                .map(|&score| Detection {
                    bbox: [0.0, 0.0, 40.0, 40.0],
                    score,
                    class: 0,
                })
                .collect(),
            objects: vec![[0.0, 0.0, 40.0, 40.0]; objects],
        }
    }

    #[test]
    fn the_threshold_clears_the_target_share_of_object_free_maps() {
        let mut maps: Vec<ValidationMap> = (0..10)
            .map(|i| map_with_scores(&[0.06, 0.1 * i as f32 + 0.05], 0))
            .collect();
        // Maps with objects do not count, however high their scores.
        maps.push(map_with_scores(&[0.99], 1));
        // Best scores 0.05..0.95 in steps of 0.1: 8 of 10 maps are clean at 0.75.
        let threshold = calibrate_score_threshold(&maps, 0.8, 0.05).unwrap();
        assert!((threshold - 0.75).abs() < 1e-6, "{threshold}");
        let clean = maps
            .iter()
            .filter(|m| m.objects.is_empty() && m.above(threshold).detections.is_empty())
            .count();
        assert_eq!(clean, 8);
        // Every map clean: the highest best score; none needed: the floor.
        assert!((calibrate_score_threshold(&maps, 1.0, 0.05).unwrap() - 0.95).abs() < 1e-6);
        assert_eq!(
            calibrate_score_threshold(&[map_with_scores(&[], 0)], 0.9, 0.05),
            Some(0.05)
        );
    }

    #[test]
    fn no_object_free_maps_no_threshold() {
        assert_eq!(
            calibrate_score_threshold(&[map_with_scores(&[0.5], 2)], 0.95, 0.05),
            None
        );
    }

    #[test]
    fn above_keeps_the_higher_scores_and_the_objects() {
        let map = map_with_scores(&[0.2, 0.7, 0.5], 1).above(0.5);
        assert_eq!(map.detections.len(), 1);
        assert_eq!(map.detections[0].score, 0.7);
        assert_eq!(map.objects.len(), 1);
    }
}
