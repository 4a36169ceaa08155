//! Multi-scale training (REFERENCE.md, "Training the prompt generator":
//! detectron2 multi-scale training): each training map is resized so that
//! its shorter side is a size drawn from a list, unless that makes the
//! longer side exceed a maximum, as detectron2's `ResizeShortestEdge`
//! (`sample_style="choice"`); the boxes scale with it. Scores are resampled
//! bilinearly with half-pixel centres (`align_corners=False`).

use rand::Rng;
use rand::seq::IndexedRandom;

use super::step::TrainingExample;

/// The size of a `height` x `width` map whose shorter side becomes
/// `shortest`, scaled down so that the longer side is at most `max_size`
/// (detectron2 `ResizeShortestEdge.get_output_shape`).
pub fn output_size(
    height: usize,
    width: usize,
    shortest: usize,
    max_size: usize,
) -> (usize, usize) {
    let (h, w) = (height as f64, width as f64);
    let mut scale = shortest as f64 / h.min(w);
    if h.max(w) * scale > max_size as f64 {
        scale = max_size as f64 / h.max(w);
    }
    (
        ((h * scale + 0.5) as usize).max(1),
        ((w * scale + 0.5) as usize).max(1),
    )
}

/// `example` with its shorter side drawn from `shortest_sides` (kept as it
/// is when the list is empty) and its longer side at most `max_size`.
pub fn resize_shortest_edge(
    example: TrainingExample,
    shortest_sides: &[usize],
    max_size: usize,
    rng: &mut impl Rng,
) -> TrainingExample {
    let Some(&shortest) = shortest_sides.choose(rng) else {
        return example;
    };
    let (height, width) = output_size(example.height, example.width, shortest, max_size);
    resize(example, height, width)
}

/// `example` resampled bilinearly to `height` x `width`, boxes scaled.
pub fn resize(example: TrainingExample, height: usize, width: usize) -> TrainingExample {
    if (height, width) == (example.height, example.width) {
        return example;
    }
    let sy = example.height as f32 / height as f32;
    let sx = example.width as f32 / width as f32;
    // For each output column: the two source columns and the weight of the second.
    let taps = |out: usize, scale: f32, len: usize| -> Vec<(usize, usize, f32)> {
        (0..out)
            .map(|i| {
                let s = ((i as f32 + 0.5) * scale - 0.5).max(0.0);
                let lo = (s.floor() as usize).min(len - 1);
                let hi = (lo + 1).min(len - 1);
                (lo, hi, s - lo as f32)
            })
            .collect()
    };
    let rows = taps(height, sy, example.height);
    let cols = taps(width, sx, example.width);
    let source = &example.values;
    let w_in = example.width;
    let mut values = Vec::with_capacity(height * width);
    for &(y0, y1, fy) in &rows {
        for &(x0, x1, fx) in &cols {
            let top = source[y0 * w_in + x0] * (1.0 - fx) + source[y0 * w_in + x1] * fx;
            let bottom = source[y1 * w_in + x0] * (1.0 - fx) + source[y1 * w_in + x1] * fx;
            values.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    let boxes = example
        .boxes
        .iter()
        .map(|b| [b[0] / sx, b[1] / sy, b[2] / sx, b[3] / sy])
        .collect();
    TrainingExample {
        height,
        width,
        values,
        boxes,
        classes: example.classes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ramp(height: usize, width: usize) -> TrainingExample {
        TrainingExample {
            height,
            width,
            values: (0..height * width).map(|i| (i % width) as f32).collect(),
            boxes: vec![[2.0, 1.0, 6.0, 3.0]],
            classes: vec![0],
        }
    }

    #[test]
    fn output_size_follows_detectron2() {
        // Shorter side to 800 unless the longer one would pass 1333.
        assert_eq!(output_size(1024, 2048, 800, 1333), (667, 1333));
        assert_eq!(output_size(700, 700, 800, 1333), (800, 800));
        assert_eq!(output_size(256, 512, 320, 1333), (320, 640));
    }

    #[test]
    fn doubling_a_ramp_interpolates_and_scales_boxes() {
        let out = resize(ramp(4, 8), 8, 16);
        assert_eq!((out.height, out.width), (8, 16));
        assert_eq!(out.boxes, vec![[4.0, 2.0, 12.0, 6.0]]);
        // Half-pixel centres: output column j samples source x = j/2 - 0.25,
        // clamped at the left edge.
        let row = &out.values[..16];
        assert_eq!(row[0], 0.0);
        assert!((row[1] - 0.25).abs() < 1e-6);
        assert!((row[2] - 0.75).abs() < 1e-6);
        assert!((row[15] - 7.0).abs() < 1e-6);
    }

    #[test]
    fn an_empty_size_list_keeps_the_map() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let example = ramp(4, 8);
        assert_eq!(
            resize_shortest_edge(example.clone(), &[], 1333, &mut rng),
            example
        );
        let resized = resize_shortest_edge(example, &[2, 6], 1333, &mut rng);
        assert!(resized.height == 2 || resized.height == 6);
        assert_eq!(resized.width, 2 * resized.height);
    }
}
