//! Distractors that are not objects: per-pixel speckle, isolated impulses,
//! and small false-positive spots, some saturated, all smaller than the
//! smallest object (what a scorer returns on a far sign, a reflection or a
//! road marking). The prompt generator must return no box for them.

use super::field::Field;
use super::sampling::{SynthRng, chance, normal, uniform, uniform_int};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The knobs of the distractors (levels in latent units). Intervals are
/// drawn per map, except spot diameters and levels, drawn per spot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistractorConfig {
    /// Standard deviation of the additive per-pixel noise (before the
    /// final blur smooths it into speckle).
    pub speckle: [f32; 2],
    /// Fraction of pixels that carry an isolated impulse.
    pub impulse_density: [f32; 2],
    /// Height of an impulse above the pixel's score.
    pub impulse_level: [f32; 2],
    /// Number of false-positive spots per map.
    pub spot_count: [u32; 2],
    /// Diameter of a spot in pixels; the largest must stay below
    /// [`super::ObjectConfig::min_size`].
    pub spot_diameter: [f32; 2],
    /// Peak latent score of a spot that is not saturated.
    pub spot_level: [f32; 2],
    /// Probability that a spot is saturated: latent 1 over its whole
    /// footprint, the highest score the map can hold.
    pub saturated_spot_probability: f32,
}

impl Default for DistractorConfig {
    fn default() -> Self {
        Self {
            speckle: [0.005, 0.03],
            impulse_density: [0.0, 0.002],
            impulse_level: [0.2, 0.6],
            spot_count: [0, 12],
            spot_diameter: [2.0, 5.0],
            spot_level: [0.6, 1.0],
            saturated_spot_probability: 0.3,
        }
    }
}

/// Adds spots (away from objects: `instances` is non-zero on object
/// pixels), impulses and speckle to `field`.
pub(crate) fn draw(
    config: &DistractorConfig,
    rng: &mut SynthRng,
    field: &mut Field,
    instances: &[u16],
) {
    let (h, w) = (field.height, field.width);
    for _ in 0..uniform_int(rng, config.spot_count) {
        let centre = [uniform(rng, [0.0, w as f32]), uniform(rng, [0.0, h as f32])];
        let diameter = uniform(rng, config.spot_diameter);
        let aspect = uniform(rng, [0.5, 1.0]);
        let level = uniform(rng, config.spot_level);
        let saturated = chance(rng, config.saturated_spot_probability);
        let footprint = spot_footprint(centre, diameter, aspect, h, w);
        // One pixel of clearance so a spot never widens an object.
        let touches_object = footprint.iter().any(|&(y, x, _)| {
            (y.saturating_sub(1)..(y + 2).min(h)).any(|yy| {
                (x.saturating_sub(1)..(x + 2).min(w)).any(|xx| instances[yy * w + xx] != 0)
            })
        });
        if !touches_object {
            for (y, x, weight) in footprint {
                let peak = if saturated { 1.0 } else { level * weight };
                let v = &mut field.data[y * w + x];
                *v = v.max(peak);
            }
        }
    }
    let impulses = (uniform(rng, config.impulse_density) * (h * w) as f32) as usize;
    for _ in 0..impulses {
        let i = rng.random_range(0..h * w);
        field.data[i] += uniform(rng, config.impulse_level);
    }
    let sigma = uniform(rng, config.speckle);
    if sigma > 0.0 {
        for v in &mut field.data {
            *v += sigma * normal(rng);
        }
    }
}

/// The pixels of an elliptical spot with a soft peak: `(row, column,
/// weight)` for every pixel whose centre lies inside the ellipse of
/// horizontal `diameter` and vertical `diameter * aspect`, weight 1 at the
/// centre falling to 0.5 at the rim. Its extent is at most
/// `ceil(diameter)` pixels either way (an open interval of length `d`
/// holds at most `ceil(d)` pixel centres).
fn spot_footprint(
    [cx, cy]: [f32; 2],
    diameter: f32,
    aspect: f32,
    height: usize,
    width: usize,
) -> Vec<(usize, usize, f32)> {
    let (rx, ry) = (diameter / 2.0, diameter * aspect / 2.0);
    let cols = (cx - rx - 0.5).ceil().max(0.0) as usize
        ..((cx + rx - 0.5).floor() + 1.0).clamp(0.0, width as f32) as usize;
    let rows = (cy - ry - 0.5).ceil().max(0.0) as usize
        ..((cy + ry - 0.5).floor() + 1.0).clamp(0.0, height as f32) as usize;
    let mut pixels = Vec::new();
    for y in rows {
        for x in cols.clone() {
            let d2 = ((x as f32 + 0.5 - cx) / rx).powi(2) + ((y as f32 + 0.5 - cy) / ry).powi(2);
            if d2 < 1.0 {
                pixels.push((y, x, 1.0 - 0.5 * d2));
            }
        }
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthesis::ObjectConfig;
    use rand::SeedableRng;

    #[test]
    fn spots_are_smaller_than_the_smallest_object() {
        let config = DistractorConfig::default();
        let min_object = ObjectConfig::default().min_size as usize;
        let mut rng = SynthRng::seed_from_u64(4);
        for _ in 0..2000 {
            let centre = [
                uniform(&mut rng, [10.0, 30.0]),
                uniform(&mut rng, [10.0, 30.0]),
            ];
            let diameter = uniform(&mut rng, config.spot_diameter);
            let aspect = uniform(&mut rng, [0.5, 1.0]);
            let px = spot_footprint(centre, diameter, aspect, 40, 40);
            let extent = |f: fn(&(usize, usize, f32)) -> usize| {
                px.iter().map(f).max().unwrap_or(0) + 1 - px.iter().map(f).min().unwrap_or(0)
            };
            let (rows, cols) = (extent(|p| p.0), extent(|p| p.1));
            let limit = diameter.ceil() as usize;
            assert!(
                cols <= limit && rows <= limit,
                "{rows}x{cols} for {diameter}"
            );
            assert!(cols.max(rows) < min_object, "spot {rows}x{cols} px");
        }
    }

    #[test]
    fn spots_keep_clear_of_objects() {
        let config = DistractorConfig {
            speckle: [0.0, 0.0],
            impulse_density: [0.0, 0.0],
            spot_count: [200, 200],
            ..DistractorConfig::default()
        };
        let (h, w) = (32, 64);
        let mut instances = vec![0u16; h * w];
        // An object on columns 20..40.
        for y in 0..h {
            instances[y * w + 20..y * w + 40].fill(1);
        }
        let mut field = Field::filled(h, w, 0.0);
        draw(
            &config,
            &mut SynthRng::seed_from_u64(8),
            &mut field,
            &instances,
        );
        for y in 0..h {
            for x in 19..41 {
                assert_eq!(field.at(y, x), 0.0, "spot at {y},{x}");
            }
        }
        assert!(field.data.iter().any(|&v| v >= 0.6 * 0.5));
    }
}
