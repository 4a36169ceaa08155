//! Object silhouettes: blobs (an ellipse whose radius carries a few random
//! harmonics), polygons (star-shaped, 3 to 8 vertices: boxes, debris,
//! signs), thin poles (tall narrow bars, sometimes with a sign on top) and
//! people-like figures (head, torso, arms, legs). Each is a union of
//! polygons, scaled so that its longer side spans exactly the requested
//! size in pixels, and filled into a [`Mask`].

use super::mask::Mask;
use super::sampling::{SynthRng, chance, pick_weighted, uniform, uniform_int};
use serde::{Deserialize, Serialize};
use std::f32::consts::{PI, TAU};

/// What an object looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShapeKind {
    /// A rounded, irregular blob (rocks, lost cargo, animals seen from afar).
    Blob,
    /// A star-shaped polygon with straight edges (boxes, debris, signs).
    Polygon,
    /// A tall narrow bar, possibly with a sign on top (poles, posts).
    Pole,
    /// Head, torso, arms and legs (people, upright animals).
    Person,
}

impl ShapeKind {
    /// Every kind, in the order of [`ShapeWeights`].
    pub const ALL: [ShapeKind; 4] = [Self::Blob, Self::Polygon, Self::Pole, Self::Person];
}

/// Relative frequency of each [`ShapeKind`] (non-negative, any scale).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapeWeights {
    pub blob: f32,
    pub polygon: f32,
    pub pole: f32,
    pub person: f32,
}

impl ShapeWeights {
    /// The weights in the order of [`ShapeKind::ALL`].
    pub fn to_array(&self) -> [f32; 4] {
        [self.blob, self.polygon, self.pole, self.person]
    }
}

/// The knobs of the silhouettes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShapeConfig {
    /// How often each kind is drawn.
    pub weights: ShapeWeights,
    /// Amplitude of the 2nd to 5th harmonics of a blob's radius, relative
    /// to the mean radius (0: a plain ellipse; above 0.5: lobed).
    pub blob_roughness: f32,
    /// Short over long axis of blobs and polygons, drawn per object.
    pub aspect: [f32; 2],
    /// Number of polygon vertices, drawn per object.
    pub polygon_vertices: [u32; 2],
    /// Height over width of a pole, drawn per object (a pole stays at
    /// least 2 px wide).
    pub pole_aspect: [f32; 2],
    /// Probability that a pole carries a sign or lamp on top.
    pub pole_sign_probability: f32,
    /// Largest tilt of poles and people from the vertical, in degrees.
    pub max_tilt_degrees: f32,
}

impl Default for ShapeConfig {
    fn default() -> Self {
        Self {
            // Compact objects dominate road-anomaly datasets; people and
            // poles are the hard, thin cases.
            weights: ShapeWeights {
                blob: 0.35,
                polygon: 0.3,
                pole: 0.15,
                person: 0.2,
            },
            blob_roughness: 0.35,
            aspect: [0.35, 1.0],
            polygon_vertices: [3, 8],
            pole_aspect: [4.0, 14.0],
            pole_sign_probability: 0.35,
            max_tilt_degrees: 12.0,
        }
    }
}

type Polygon = Vec<[f32; 2]>;

/// Draws a shape kind and its silhouette, whose longer side is exactly
/// `size` pixels (`size >= 2`).
pub(crate) fn draw(config: &ShapeConfig, rng: &mut SynthRng, size: usize) -> (ShapeKind, Mask) {
    let kind = ShapeKind::ALL[pick_weighted(rng, &config.weights.to_array())];
    let parts = match kind {
        ShapeKind::Blob => vec![blob(config, rng)],
        ShapeKind::Polygon => vec![polygon(config, rng)],
        ShapeKind::Pole => pole(config, rng, size),
        ShapeKind::Person => person(config, rng),
    };
    (kind, rasterize(&parts, size))
}

/// An ellipse with a noisy radius, randomly rotated.
fn blob(config: &ShapeConfig, rng: &mut SynthRng) -> Polygon {
    let harmonics: Vec<(f32, f32)> = (2..=5)
        .map(|k| {
            let amplitude = uniform(rng, [0.0, config.blob_roughness]) / (k - 1) as f32;
            (amplitude, uniform(rng, [0.0, TAU]))
        })
        .collect();
    let aspect = uniform(rng, config.aspect);
    let rotation = uniform(rng, [0.0, PI]);
    let points = (0..48)
        .map(|i| {
            let theta = i as f32 / 48.0 * TAU;
            let wobble: f32 = harmonics
                .iter()
                .zip(2..)
                .map(|(&(a, phase), k)| a * (k as f32 * theta + phase).cos())
                .sum();
            let r = (1.0 + wobble).max(0.3);
            [r * theta.cos(), aspect * r * theta.sin()]
        })
        .collect();
    rotate(points, rotation)
}

/// A star-shaped polygon: vertices at evenly spaced angles, each jittered
/// by up to a third of the spacing (no slivers), at random radii.
fn polygon(config: &ShapeConfig, rng: &mut SynthRng) -> Polygon {
    let n = uniform_int(rng, config.polygon_vertices).max(3);
    let spacing = TAU / n as f32;
    let aspect = uniform(rng, config.aspect);
    let rotation = uniform(rng, [0.0, PI]);
    let points = (0..n)
        .map(|i| {
            let theta = (i as f32 + uniform(rng, [-0.33, 0.33])) * spacing;
            let r = uniform(rng, [0.55, 1.0]);
            [r * theta.cos(), aspect * r * theta.sin()]
        })
        .collect();
    rotate(points, rotation)
}

/// A vertical bar (unit width) with an optional sign on top, tilted.
fn pole(config: &ShapeConfig, rng: &mut SynthRng, size: usize) -> Vec<Polygon> {
    // Never thinner than 2 px once scaled to `size`.
    let height = uniform(rng, config.pole_aspect)
        .min(size as f32 / 2.0)
        .max(1.0);
    let mut parts = vec![rect(-0.5, 0.0, 0.5, height)];
    if chance(rng, config.pole_sign_probability) {
        let w = uniform(rng, [2.5, 6.0]).min(height * 0.6);
        let h = uniform(rng, [0.6, 1.2]) * w;
        let side = uniform(rng, [-0.5, 0.5]) * w;
        parts.push(rect(side - w / 2.0, 0.0, side + w / 2.0, h));
    }
    let tilt = uniform(rng, [-1.0, 1.0]) * config.max_tilt_degrees.to_radians();
    parts.into_iter().map(|p| rotate(p, tilt)).collect()
}

/// A standing or walking figure of unit height: head, neck, torso, two
/// arms, two legs; proportions and pose vary per object.
fn person(config: &ShapeConfig, rng: &mut SynthRng) -> Vec<Polygon> {
    let shoulders = 0.13 * uniform(rng, [0.85, 1.25]);
    let hips = 0.1 * uniform(rng, [0.85, 1.25]);
    let stride = uniform(rng, [0.0, 0.25]);
    let swing = [uniform(rng, [-0.03, 0.12]), uniform(rng, [-0.03, 0.12])];
    let head = (0..16)
        .map(|i| {
            let t = i as f32 / 16.0 * TAU;
            [0.06 * t.cos(), 0.075 + 0.075 * t.sin()]
        })
        .collect();
    let mut parts = vec![
        head,
        rect(-0.025, 0.13, 0.025, 0.18),
        vec![
            [-shoulders, 0.16],
            [shoulders, 0.16],
            [hips, 0.54],
            [-hips, 0.54],
        ],
    ];
    for (side, swing) in [-1.0f32, 1.0].into_iter().zip(swing) {
        let shoulder = [side * (shoulders - 0.02), 0.18];
        let hand = [side * (shoulders + swing), 0.52];
        parts.push(limb(shoulder, hand, 0.055, 0.04));
        let hip = [side * (hips - 0.04), 0.5];
        let foot = [side * (0.05 + stride / 2.0), 1.0];
        parts.push(limb(hip, foot, 0.085, 0.06));
    }
    let tilt = uniform(rng, [-1.0, 1.0]) * config.max_tilt_degrees.to_radians();
    parts.into_iter().map(|p| rotate(p, tilt)).collect()
}

/// An axis-aligned rectangle.
fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Polygon {
    vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
}

/// A quadrilateral along the segment `a -> b`, `width_a` wide at `a` and
/// `width_b` at `b`.
fn limb(a: [f32; 2], b: [f32; 2], width_a: f32, width_b: f32) -> Polygon {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len = (dx * dx + dy * dy).sqrt().max(1e-6);
    let (nx, ny) = (-dy / len, dx / len);
    let (ha, hb) = (width_a / 2.0, width_b / 2.0);
    vec![
        [a[0] + nx * ha, a[1] + ny * ha],
        [b[0] + nx * hb, b[1] + ny * hb],
        [b[0] - nx * hb, b[1] - ny * hb],
        [a[0] - nx * ha, a[1] - ny * ha],
    ]
}

/// Rotates points about the origin.
fn rotate(points: Polygon, angle: f32) -> Polygon {
    let (s, c) = angle.sin_cos();
    points
        .into_iter()
        .map(|[x, y]| [c * x - s * y, s * x + c * y])
        .collect()
}

/// Scales the union of `parts` so that its longer side runs from the
/// centre of the first to the centre of the last of `size` pixels, fills
/// it, and sets the pixels under the four extreme points (so the mask's
/// extent is exactly `size` even where a tip is thinner than a pixel).
fn rasterize(parts: &[Polygon], size: usize) -> Mask {
    let points = || parts.iter().flatten();
    let min_x = points().map(|p| p[0]).fold(f32::INFINITY, f32::min);
    let max_x = points().map(|p| p[0]).fold(f32::NEG_INFINITY, f32::max);
    let min_y = points().map(|p| p[1]).fold(f32::INFINITY, f32::min);
    let max_y = points().map(|p| p[1]).fold(f32::NEG_INFINITY, f32::max);
    let scale = (size as f32 - 1.0) / (max_x - min_x).max(max_y - min_y).max(1e-6);
    let map = |[x, y]: [f32; 2]| [0.5 + (x - min_x) * scale, 0.5 + (y - min_y) * scale];
    let width = (map([max_x, 0.0])[0].floor() as usize + 1).min(size);
    let height = (map([0.0, max_y])[1].floor() as usize + 1).min(size);
    let mut mask = Mask::empty(height, width);
    for part in parts {
        let scaled: Polygon = part.iter().map(|&p| map(p)).collect();
        mask.fill_polygon(&scaled);
    }
    for [x, y] in points().map(|&p| map(p)) {
        let on_edge = x <= 0.5 + 1e-3
            || y <= 0.5 + 1e-3
            || x >= width as f32 - 0.5 - 1e-3
            || y >= height as f32 - 0.5 - 1e-3;
        if on_edge {
            let px = (x.floor() as i64).min(width as i64 - 1);
            let py = (y.floor() as i64).min(height as i64 - 1);
            mask.set(py, px, true);
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn draw_kind(kind: ShapeKind, seed: u64, size: usize) -> Mask {
        let mut weights = ShapeWeights {
            blob: 0.0,
            polygon: 0.0,
            pole: 0.0,
            person: 0.0,
        };
        match kind {
            ShapeKind::Blob => weights.blob = 1.0,
            ShapeKind::Polygon => weights.polygon = 1.0,
            ShapeKind::Pole => weights.pole = 1.0,
            ShapeKind::Person => weights.person = 1.0,
        }
        let config = ShapeConfig {
            weights,
            ..ShapeConfig::default()
        };
        let (drawn, mask) = draw(&config, &mut SynthRng::seed_from_u64(seed), size);
        assert_eq!(drawn, kind);
        mask
    }

    #[test]
    fn every_kind_spans_exactly_the_requested_size() {
        for kind in ShapeKind::ALL {
            for (seed, size) in [(1, 8), (2, 13), (3, 32), (4, 97), (5, 256)] {
                let mask = draw_kind(kind, seed, size);
                let [x0, y0, x1, y1] = mask.bounds().expect("empty shape");
                assert_eq!(
                    (x1 - x0).max(y1 - y0),
                    size,
                    "{kind:?} size {size}: {:?}",
                    [x0, y0, x1, y1]
                );
                assert!(mask.area() * 10 >= size, "{kind:?} {size} too sparse");
            }
        }
    }

    #[test]
    fn poles_and_people_stand_upright() {
        for seed in 0..20 {
            for kind in [ShapeKind::Pole, ShapeKind::Person] {
                let [x0, y0, x1, y1] = draw_kind(kind, seed, 120).bounds().unwrap();
                assert!(y1 - y0 == 120 && x1 - x0 < 120, "{kind:?}: {x0}..{x1}");
            }
        }
    }
}
