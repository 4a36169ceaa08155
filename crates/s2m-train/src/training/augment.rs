//! Training-time augmentation of a score map and its boxes
//! (REFERENCE.md, "Training the prompt generator"): horizontal flip with
//! probability one half, and every score multiplied by U(0.99, 1.01), the
//! paper's 1 % noise.

use rand::Rng;

use super::step::TrainingExample;

/// `example` flipped (or not) and with multiplicative noise.
pub fn augment(mut example: TrainingExample, rng: &mut impl Rng) -> TrainingExample {
    if rng.random_bool(0.5) {
        let w = example.width;
        for row in example.values.chunks_exact_mut(w) {
            row.reverse();
        }
        for b in &mut example.boxes {
            *b = [w as f32 - b[2], b[1], w as f32 - b[0], b[3]];
        }
    }
    for v in &mut example.values {
        *v *= rng.random_range(0.99..1.01);
    }
    example
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn flips_move_boxes_with_the_scores_and_noise_stays_within_one_percent() {
        let example = TrainingExample {
            height: 1,
            width: 4,
            values: vec![1.0, 2.0, 3.0, 4.0],
            boxes: vec![[0.0, 0.0, 1.0, 1.0]],
            classes: vec![0],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut flipped_once = false;
        for _ in 0..16 {
            let out = augment(example.clone(), &mut rng);
            let flipped = out.values[0] > 2.0;
            flipped_once |= flipped;
            let expected_box = if flipped {
                [3.0, 0.0, 4.0, 1.0]
            } else {
                [0.0, 0.0, 1.0, 1.0]
            };
            assert_eq!(out.boxes[0], expected_box);
            let mut original = example.values.clone();
            if flipped {
                original.reverse();
            }
            for (a, b) in out.values.iter().zip(&original) {
                assert!((a / b - 1.0).abs() <= 0.01 + 1e-6);
            }
        }
        assert!(flipped_once);
    }
}
