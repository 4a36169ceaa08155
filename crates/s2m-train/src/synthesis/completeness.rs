//! How complete an object looks in the score map. Real anomaly scorers
//! rarely light up a whole object: parts score like the road (fragments),
//! textured interiors leave holes, something in front hides a band of it,
//! and some objects are only slightly above the background (faint). The
//! first three clear pixels of the object's mask; faintness lowers the
//! score painted on what remains.

use super::field::Field;
use super::mask::Mask;
use super::sampling::{SynthRng, chance, uniform, uniform_int};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::f32::consts::PI;

/// The knobs of the degradations. Each applies to an object independently
/// with its probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompletenessConfig {
    /// Probability that an object breaks into fragments.
    pub fragment_probability: f32,
    /// Fraction of a fragmented object's pixels that drop out (along
    /// smooth noise, so whole regions go, leaving pieces).
    pub fragment_fraction: [f32; 2],
    /// Probability that an object has holes.
    pub hole_probability: f32,
    /// Number of holes in a holey object.
    pub holes: [u32; 2],
    /// Diameter of a hole relative to the object's size (longer side).
    pub hole_size: [f32; 2],
    /// Probability that a band (an inlier object in front, the frame of a
    /// car) hides part of the object.
    pub occlusion_probability: f32,
    /// Fraction of the object's extent across the band that it hides.
    pub occlusion_fraction: [f32; 2],
    /// Probability that an object is faint: barely above the background.
    pub faint_probability: f32,
    /// Latent score of a faint object above the background under it.
    pub faint_contrast: [f32; 2],
    /// Objects keep at least this fraction of their complete area after
    /// the degradations, the frame border and other objects; otherwise the
    /// object is drawn anew (a sliver is no longer a labelled object).
    pub min_visible_fraction: f32,
}

impl Default for CompletenessConfig {
    fn default() -> Self {
        Self {
            fragment_probability: 0.15,
            fragment_fraction: [0.15, 0.45],
            hole_probability: 0.2,
            holes: [1, 4],
            hole_size: [0.1, 0.3],
            occlusion_probability: 0.2,
            occlusion_fraction: [0.15, 0.5],
            faint_probability: 0.12,
            faint_contrast: [0.12, 0.25],
            min_visible_fraction: 0.4,
        }
    }
}

/// Which degradations an object went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completeness {
    pub fragmented: bool,
    pub holey: bool,
    pub occluded: bool,
    pub faint: bool,
}

/// Draws the degradations of one object and clears the pixels they remove
/// from `mask` (a trimmed silhouette).
pub(crate) fn degrade(
    config: &CompletenessConfig,
    rng: &mut SynthRng,
    mask: &mut Mask,
) -> Completeness {
    let size = mask.width.max(mask.height) as f32;
    let mut done = Completeness::default();
    if chance(rng, config.fragment_probability) {
        let fraction = uniform(rng, config.fragment_fraction);
        fragment(mask, rng, size, fraction);
        done.fragmented = true;
    }
    if chance(rng, config.hole_probability) {
        for _ in 0..uniform_int(rng, config.holes) {
            let diameter = uniform(rng, config.hole_size) * size;
            punch_hole(mask, rng, diameter);
        }
        done.holey = true;
    }
    if chance(rng, config.occlusion_probability) {
        let fraction = uniform(rng, config.occlusion_fraction);
        occlude(mask, rng, fraction);
        done.occluded = true;
    }
    done.faint = chance(rng, config.faint_probability);
    done
}

/// Clears about `fraction` of the pixels: those where a smooth noise field
/// (cells a third of the object) is lowest.
fn fragment(mask: &mut Mask, rng: &mut SynthRng, size: f32, fraction: f32) {
    let noise = Field::value_noise(rng, mask.height, mask.width, (size / 3.0).max(3.0));
    let mut inside: Vec<f32> = (0..mask.data.len())
        .filter(|&i| mask.data[i])
        .map(|i| noise.data[i])
        .collect();
    if inside.is_empty() {
        return;
    }
    let k = ((inside.len() as f32 * fraction) as usize).min(inside.len() - 1);
    let (_, &mut threshold, _) = inside.select_nth_unstable_by(k, f32::total_cmp);
    mask.clear_where(|y, x| noise.at(y, x) < threshold);
}

/// Clears an ellipse of about `diameter` pixels centred on a set pixel.
fn punch_hole(mask: &mut Mask, rng: &mut SynthRng, diameter: f32) {
    let set: Vec<usize> = (0..mask.data.len()).filter(|&i| mask.data[i]).collect();
    if set.is_empty() {
        return;
    }
    let centre = set[rng.random_range(0..set.len())];
    let cy = (centre / mask.width) as f32 + 0.5;
    let cx = (centre % mask.width) as f32 + 0.5;
    let rx = (diameter / 2.0).max(1.0);
    let ry = rx * uniform(rng, [0.5, 1.0]);
    let (s, c) = uniform(rng, [0.0, PI]).sin_cos();
    mask.clear_where(|y, x| {
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let (u, v) = (c * dx + s * dy, -s * dx + c * dy);
        (u / rx).powi(2) + (v / ry).powi(2) <= 1.0
    });
}

/// Clears a band across the object covering `fraction` of its extent
/// along the band's normal: from one side (something in front of its
/// left, right or lower part) or through the middle (a pole in front).
fn occlude(mask: &mut Mask, rng: &mut SynthRng, fraction: f32) {
    // Mostly upright or lying bands, up to 20 degrees off.
    let upright = rng.random_bool(0.5);
    let angle = uniform(rng, [-0.35, 0.35]) + if upright { 0.0 } else { PI / 2.0 };
    let (ny, nx) = angle.sin_cos();
    let project = |y: usize, x: usize| (x as f32 + 0.5) * nx + (y as f32 + 0.5) * ny;
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for y in 0..mask.height {
        for x in 0..mask.width {
            if mask.get(y, x) {
                let d = project(y, x);
                lo = lo.min(d);
                hi = hi.max(d);
            }
        }
    }
    if lo > hi {
        return;
    }
    let band = (hi - lo) * fraction;
    let (start, end) = match rng.random_range(0..3) {
        0 => (lo - 1.0, lo + band),
        1 => (hi - band, hi + 1.0),
        _ => {
            let start = uniform(rng, [lo + 0.1 * (hi - lo), hi - band - 0.1 * (hi - lo)]);
            (start, start + band)
        }
    };
    mask.clear_where(|y, x| (start..end).contains(&project(y, x)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn square(n: usize) -> Mask {
        let mut m = Mask::empty(n, n);
        m.data.fill(true);
        m
    }

    #[test]
    fn each_degradation_removes_pixels_but_not_all() {
        let mut rng = SynthRng::seed_from_u64(7);
        let full = 64 * 64;
        let mut m = square(64);
        fragment(&mut m, &mut rng, 64.0, 0.3);
        let left = m.area() as f32 / full as f32;
        assert!((0.65..0.75).contains(&left), "fragment left {left}");

        let mut m = square(64);
        punch_hole(&mut m, &mut rng, 16.0);
        assert!(m.area() < full && m.area() > full / 2);

        for _ in 0..10 {
            let mut m = square(64);
            occlude(&mut m, &mut rng, 0.3);
            let left = m.area() as f32 / full as f32;
            assert!((0.5..0.9).contains(&left), "occlusion left {left}");
        }
    }

    #[test]
    fn nothing_happens_at_probability_zero() {
        let config = CompletenessConfig {
            fragment_probability: 0.0,
            hole_probability: 0.0,
            occlusion_probability: 0.0,
            faint_probability: 0.0,
            ..CompletenessConfig::default()
        };
        let mut m = square(20);
        let done = degrade(&config, &mut SynthRng::seed_from_u64(3), &mut m);
        assert_eq!(done, Completeness::default());
        assert_eq!(m.area(), 400);
    }
}
