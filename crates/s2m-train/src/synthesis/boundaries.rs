//! Thin high-score curves along would-be class boundaries. Segmentation
//! networks are least sure where one class meets another, so every energy
//! or entropy map shows the scene's edges as 1 to 3 px lines: the horizon,
//! road edges running to the vanishing point, vertical edges of poles and
//! buildings, outlines of cars and pedestrians, and arbitrary curves
//! (vegetation, shadows). They are the main distractor the prompt generator
//! must learn to ignore: long and thin, or hollow, never a filled region.

use super::field::Field;
use super::sampling::{SynthRng, chance, pick_weighted, uniform, uniform_int};
use serde::{Deserialize, Serialize};
use std::f32::consts::{PI, TAU};

/// Relative frequency of each family of boundary curves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundaryFamilies {
    /// A wavy, near-horizontal line at the horizon.
    pub horizon: f32,
    /// A road edge from the bottom of the frame towards the vanishing point.
    pub road_edge: f32,
    /// A vertical edge above the road (poles, buildings), sometimes a pair.
    pub vertical: f32,
    /// A hollow rounded outline (the contour of a car or pedestrian).
    pub outline: f32,
    /// A free random curve.
    pub free: f32,
}

/// The knobs of the boundary curves (levels in latent units).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BoundaryConfig {
    /// Number of curves per map.
    pub count: [u32; 2],
    /// Peak latent score of a curve, drawn per curve.
    pub level: [f32; 2],
    /// Line width in pixels, drawn per curve.
    pub width: [f32; 2],
    /// Relative variation of the score along a curve (0: constant).
    pub level_variation: f32,
    /// Curves are drawn in pieces of this many pixels...
    pub piece_length: f32,
    /// ...each left out with this probability (broken, dashed edges).
    pub gap_probability: f32,
    /// Size of an outline, as a fraction of the height.
    pub outline_size: [f32; 2],
    /// How often each family is drawn.
    pub families: BoundaryFamilies,
}

impl Default for BoundaryConfig {
    fn default() -> Self {
        Self {
            count: [3, 12],
            level: [0.3, 0.6],
            width: [1.0, 3.0],
            level_variation: 0.35,
            piece_length: 12.0,
            gap_probability: 0.15,
            outline_size: [0.06, 0.35],
            families: BoundaryFamilies {
                horizon: 1.0,
                road_edge: 2.0,
                vertical: 2.0,
                outline: 1.5,
                free: 2.5,
            },
        }
    }
}

impl BoundaryFamilies {
    pub(crate) fn to_array(&self) -> [f32; 5] {
        [
            self.horizon,
            self.road_edge,
            self.vertical,
            self.outline,
            self.free,
        ]
    }
}

/// Draws the boundary curves of one map into `field` (max-blended: a
/// curve raises the score, never lowers it). `horizon` is the row of the
/// background's horizon.
pub(crate) fn draw(config: &BoundaryConfig, rng: &mut SynthRng, field: &mut Field, horizon: f32) {
    let (h, w) = (field.height as f32, field.width as f32);
    for _ in 0..uniform_int(rng, config.count) {
        let curves = match pick_weighted(rng, &config.families.to_array()) {
            0 => vec![horizon_line(rng, w, h, horizon)],
            1 => vec![road_edge(rng, w, h, horizon)],
            2 => vertical_edges(rng, w, h, horizon),
            3 => vec![outline(rng, w, h, config.outline_size)],
            _ => vec![free_curve(rng, w, h)],
        };
        let level = uniform(rng, config.level);
        let width = uniform(rng, config.width);
        for curve in curves {
            stroke(config, rng, field, &curve, level, width);
        }
    }
}

/// A wavy line around the horizon over 30 to 100 % of the width.
fn horizon_line(rng: &mut SynthRng, w: f32, h: f32, horizon: f32) -> Vec<[f32; 2]> {
    let span = uniform(rng, [0.3, 1.0]) * w;
    let x0 = uniform(rng, [0.0, w - span]);
    let mut y = horizon + uniform(rng, [-0.03, 0.03]) * h;
    (0..=24)
        .map(|i| {
            y += uniform(rng, [-0.008, 0.008]) * h;
            [x0 + span * i as f32 / 24.0, y]
        })
        .collect()
}

/// A gently curved line from the bottom edge towards a vanishing point on
/// the horizon, stopping short of it.
fn road_edge(rng: &mut SynthRng, w: f32, h: f32, horizon: f32) -> Vec<[f32; 2]> {
    let vanish = [uniform(rng, [0.35, 0.65]) * w, horizon];
    let side = uniform(rng, [-0.3, 0.4]) * w;
    let start = [if chance(rng, 0.5) { side } else { w - side }, h];
    let reach = uniform(rng, [0.6, 0.97]);
    let bend = uniform(rng, [-0.05, 0.05]) * w;
    (0..=16)
        .map(|i| {
            let t = reach * i as f32 / 16.0;
            let x = start[0] + (vanish[0] - start[0]) * t + bend * (PI * t).sin();
            [x, start[1] + (vanish[1] - start[1]) * t]
        })
        .collect()
}

/// A near-vertical edge above the road; half the time two parallel ones
/// (both sides of a pole or a building corner).
fn vertical_edges(rng: &mut SynthRng, w: f32, h: f32, horizon: f32) -> Vec<Vec<[f32; 2]>> {
    let x = uniform(rng, [0.0, w]);
    let top = uniform(rng, [0.0, horizon + 0.05 * h]);
    let length = uniform(rng, [0.05, 0.4]) * h;
    let lean = uniform(rng, [-0.05, 0.05]) * length;
    let line = |x: f32| vec![[x, top], [x + lean, top + length]];
    let mut lines = vec![line(x)];
    if chance(rng, 0.5) {
        lines.push(line(x + uniform(rng, [6.0, 24.0])));
    }
    lines
}

/// A closed rounded box (superellipse) outline, like a car's or a
/// pedestrian's contour; its interior stays low.
fn outline(rng: &mut SynthRng, w: f32, h: f32, size: [f32; 2]) -> Vec<[f32; 2]> {
    let rx = uniform(rng, size) * h / 2.0;
    let ry = rx * uniform(rng, [0.4, 2.0]);
    let centre = [uniform(rng, [0.0, w]), uniform(rng, [0.25, 1.0]) * h];
    let exponent = uniform(rng, [0.3, 1.0]);
    (0..=48)
        .map(|i| {
            let t = i as f32 / 48.0 * TAU;
            let (s, c) = t.sin_cos();
            [
                centre[0] + rx * c.signum() * c.abs().powf(exponent),
                centre[1] + ry * s.signum() * s.abs().powf(exponent),
            ]
        })
        .collect()
}

/// A smooth random walk of 5 to 50 % of the width.
fn free_curve(rng: &mut SynthRng, w: f32, h: f32) -> Vec<[f32; 2]> {
    let length = uniform(rng, [0.05, 0.5]) * w;
    let step = 10.0;
    let mut p = [uniform(rng, [0.0, w]), uniform(rng, [0.0, h])];
    let mut heading = uniform(rng, [0.0, TAU]);
    let mut points = vec![p];
    for _ in 0..(length / step).ceil() as usize {
        heading += uniform(rng, [-0.35, 0.35]);
        p = [p[0] + step * heading.cos(), p[1] + step * heading.sin()];
        points.push(p);
    }
    points
}

/// Draws `curve` as an anti-aliased line of `width` px whose score varies
/// smoothly along its length around `level`, in pieces some of which are
/// left out.
fn stroke(
    config: &BoundaryConfig,
    rng: &mut SynthRng,
    field: &mut Field,
    curve: &[[f32; 2]],
    level: f32,
    width: f32,
) {
    let wavelength = uniform(rng, [20.0, 80.0]);
    let phase = uniform(rng, [0.0, TAU]);
    let level_at = |arc: f32| {
        let v = level * (1.0 + config.level_variation * (arc / wavelength + phase).sin());
        v.clamp(0.0, 1.0)
    };
    let piece = config.piece_length.max(1.0);
    let mut arc = 0.0;
    for pair in curve.windows(2) {
        let [a, b] = [pair[0], pair[1]];
        let length = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        let pieces = (length / piece).ceil().max(1.0) as usize;
        for i in 0..pieces {
            let (t0, t1) = (i as f32 / pieces as f32, (i + 1) as f32 / pieces as f32);
            let gap = chance(rng, config.gap_probability);
            if !gap {
                let p = |t: f32| [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
                let levels = [level_at(arc + t0 * length), level_at(arc + t1 * length)];
                segment(field, p(t0), p(t1), width / 2.0, levels);
            }
        }
        arc += length;
    }
}

/// Raises the pixels within `half_width` (plus half a pixel of
/// anti-aliasing) of the segment `a -> b` towards the level interpolated
/// between `levels` along it.
fn segment(field: &mut Field, a: [f32; 2], b: [f32; 2], half_width: f32, levels: [f32; 2]) {
    let reach = half_width + 1.0;
    let x_range = clip(a[0].min(b[0]) - reach, a[0].max(b[0]) + reach, field.width);
    let y_range = clip(a[1].min(b[1]) - reach, a[1].max(b[1]) + reach, field.height);
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    for y in y_range {
        for x in x_range.clone() {
            let (px, py) = (x as f32 + 0.5 - a[0], y as f32 + 0.5 - a[1]);
            let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
            let d = ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt();
            let coverage = (half_width + 0.5 - d).clamp(0.0, 1.0);
            if coverage > 0.0 {
                let target = levels[0] + (levels[1] - levels[0]) * t;
                let v = &mut field.data[y * field.width + x];
                *v += coverage * (target - *v).max(0.0);
            }
        }
    }
}

/// The pixel indices overlapping `[lo, hi]`, clipped to `0..n`.
fn clip(lo: f32, hi: f32, n: usize) -> std::ops::Range<usize> {
    let start = lo.floor().max(0.0) as usize;
    let end = (hi.ceil().max(0.0) as usize).min(n);
    start.min(end)..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn curves_are_thin_and_at_their_level() {
        let config = BoundaryConfig {
            gap_probability: 0.0,
            level_variation: 0.0,
            ..BoundaryConfig::default()
        };
        let mut field = Field::filled(40, 100, 0.1);
        let mut rng = SynthRng::seed_from_u64(2);
        stroke(
            &config,
            &mut rng,
            &mut field,
            &[[10.0, 20.5], [90.0, 20.5]],
            0.5,
            2.0,
        );
        // Column 50: the centre row at the full level, its neighbours half
        // covered (anti-aliasing), nothing beyond.
        let column: Vec<f32> = (0..40).map(|y| field.at(y, 50)).collect();
        assert!((column[20] - 0.5).abs() < 1e-6);
        for y in [19, 21] {
            assert!((column[y] - 0.3).abs() < 1e-6, "row {y}: {}", column[y]);
        }
        assert_eq!((column[18], column[22]), (0.1, 0.1));
    }

    #[test]
    fn curves_never_lower_the_field_and_stay_inside() {
        let mut field = Field::filled(64, 128, 0.2);
        let mut rng = SynthRng::seed_from_u64(9);
        draw(&BoundaryConfig::default(), &mut rng, &mut field, 30.0);
        assert!(field.data.iter().all(|&v| (0.2..=1.0).contains(&v)));
        assert!(field.data.iter().any(|&v| v > 0.25));
    }
}
