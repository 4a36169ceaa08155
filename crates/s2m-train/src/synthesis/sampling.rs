//! Random draws used throughout the synthesis, all from one seeded
//! [`ChaCha8Rng`], so that a seed reproduces a map.
//!
//! Intervals are `[min, max]` pairs as written in the configuration; an
//! empty interval (`min == max`) always yields `min`.

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

/// The generator every synthesis step draws from.
pub(crate) type SynthRng = ChaCha8Rng;

/// A uniform draw from `[min, max)`.
pub(crate) fn uniform(rng: &mut SynthRng, [min, max]: [f32; 2]) -> f32 {
    if max > min {
        rng.random_range(min..max)
    } else {
        min
    }
}

/// A uniform integer from `[min, max]` (both included).
pub(crate) fn uniform_int(rng: &mut SynthRng, [min, max]: [u32; 2]) -> u32 {
    if max > min {
        rng.random_range(min..=max)
    } else {
        min
    }
}

/// A draw whose logarithm is uniform on `[ln min, ln max)`: as many objects
/// between 8 and 16 px as between 128 and 256 px.
pub(crate) fn log_uniform(rng: &mut SynthRng, [min, max]: [f32; 2]) -> f32 {
    uniform(rng, [min.ln(), max.ln()]).exp()
}

/// True with probability `p` (never for `p <= 0`, always for `p >= 1`).
pub(crate) fn chance(rng: &mut SynthRng, p: f32) -> bool {
    rng.random::<f32>() < p
}

/// An index drawn with probability proportional to `weights[i]`. The
/// weights are non-negative with a positive sum (checked by the config).
pub(crate) fn pick_weighted(rng: &mut SynthRng, weights: &[f32]) -> usize {
    let total: f32 = weights.iter().sum();
    let mut u = rng.random::<f32>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    // Rounding left `u` at the very top: the last index with any weight.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// An approximately standard-normal number from one 64-bit draw: the sum
/// of its four 16-bit lanes (Irwin-Hall, mean 2, variance 1/3) rescaled.
/// Cheap enough for one per pixel; tails end at about 3.5 sigma.
pub(crate) fn normal(rng: &mut SynthRng) -> f32 {
    let bits = rng.next_u64();
    let sum: f32 = (0..4)
        .map(|k| ((bits >> (16 * k)) & 0xffff) as f32 / 65536.0)
        .sum();
    (sum - 2.0) * 3.0f32.sqrt()
}
