//! Anomalous objects: how many, how big, where, and how bright. Each
//! object is a silhouette ([`super::shapes`]) degraded
//! ([`super::completeness`]) and placed in the frame; the label is the
//! tight box of what stays visible. Objects never touch one another, so
//! every label box matches exactly one connected group of object pixels.

use super::SyntheticObject;
use super::completeness::{self, CompletenessConfig};
use super::field::Field;
use super::mask::Mask;
use super::sampling::{SynthRng, log_uniform, pick_weighted, uniform};
use super::shapes::{self, ShapeConfig};
use serde::{Deserialize, Serialize};

/// The knobs of the objects (levels in latent units).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectConfig {
    /// Relative weights of 0, 1, 2, ... objects in a map (index = count).
    pub count_weights: Vec<f32>,
    /// Smallest object: the longer side of its complete silhouette, and of
    /// its visible part, in pixels.
    pub min_size: u32,
    /// Largest object, as a fraction of the frame's shorter side. Sizes are
    /// log-uniform between the two.
    pub max_size_fraction: f32,
    /// Horizontal range of object centres, as fractions of the width.
    pub centre_x: [f32; 2],
    /// Vertical range of object centres, as fractions of the height (road
    /// anomalies sit mostly below the horizon).
    pub centre_y: [f32; 2],
    /// Latent score of an object that is not faint, drawn per object.
    pub level: [f32; 2],
    /// An object that is not faint stays at least this far above the
    /// background under it.
    pub min_contrast: f32,
    /// Amplitude (plus or minus) of the smooth texture on an object,
    /// drawn per object.
    pub texture: [f32; 2],
    /// Two objects' boxes overlap by at most this fraction of the smaller
    /// box.
    pub max_box_overlap: f32,
    /// Attempts at drawing and placing one object before it is left out.
    pub attempts: u32,
}

impl Default for ObjectConfig {
    fn default() -> Self {
        Self {
            count_weights: vec![0.3, 0.3, 0.2, 0.12, 0.08],
            min_size: 8,
            max_size_fraction: 0.5,
            centre_x: [0.03, 0.97],
            centre_y: [0.3, 0.97],
            level: [0.6, 1.0],
            min_contrast: 0.25,
            texture: [0.03, 0.2],
            max_box_overlap: 0.1,
            attempts: 20,
        }
    }
}

/// An object placed in the frame: its visible mask and how to paint it.
pub(crate) struct PlacedObject {
    pub label: SyntheticObject,
    /// The visible pixels only, positioned in the frame.
    pub mask: Mask,
    /// Latent score (or, for a faint object, contrast above the background).
    pub level: f32,
}

/// Draws the objects of a `height x width` map and returns them with the
/// instance map (0: no object, `k`: the `k`-th object).
pub(crate) fn place(
    config: &ObjectConfig,
    shape_config: &ShapeConfig,
    completeness_config: &CompletenessConfig,
    rng: &mut SynthRng,
    height: usize,
    width: usize,
) -> (Vec<PlacedObject>, Vec<u16>) {
    let count = pick_weighted(rng, &config.count_weights);
    let mut instances = vec![0u16; height * width];
    let mut placed: Vec<PlacedObject> = Vec::with_capacity(count);
    for _ in 0..count {
        let object = (0..config.attempts).find_map(|_| {
            let candidate = draw(
                config,
                shape_config,
                completeness_config,
                rng,
                height,
                width,
                &instances,
            )?;
            let apart = placed.iter().all(|other| {
                overlap_of_smaller(&candidate.label.bbox, &other.label.bbox)
                    <= config.max_box_overlap
            });
            apart.then_some(candidate)
        });
        if let Some(object) = object {
            let id = placed.len() as u16 + 1;
            let mask = &object.mask;
            for y in 0..mask.height {
                for x in 0..mask.width {
                    if mask.get(y, x) {
                        let i = (mask.y0 as usize + y) * width + mask.x0 as usize + x;
                        instances[i] = id;
                    }
                }
            }
            placed.push(object);
        }
    }
    (placed, instances)
}

/// One attempt at an object: a silhouette, its degradations, a position.
/// `None` when too little of it remains visible (frame border included)
/// or when it would touch an object already placed.
fn draw(
    config: &ObjectConfig,
    shape_config: &ShapeConfig,
    completeness_config: &CompletenessConfig,
    rng: &mut SynthRng,
    height: usize,
    width: usize,
    instances: &[u16],
) -> Option<PlacedObject> {
    let (min_size, max_size) = (config.min_size as usize, config.max_size(height, width));
    let size = log_uniform(rng, [min_size as f32, max_size as f32 + 1.0]) as usize;
    let size = size.clamp(min_size, max_size);
    let (kind, mut mask) = shapes::draw(shape_config, rng, size);
    let complete_area = mask.area();
    let degraded = completeness::degrade(completeness_config, rng, &mut mask);
    let centre_x = uniform(rng, config.centre_x) * width as f32;
    let centre_y = uniform(rng, config.centre_y) * height as f32;
    mask.x0 = (centre_x - mask.width as f32 / 2.0).round() as i64;
    mask.y0 = (centre_y - mask.height as f32 / 2.0).round() as i64;
    let level = if degraded.faint {
        uniform(rng, completeness_config.faint_contrast)
    } else {
        uniform(rng, config.level)
    };

    let visible = visible_part(&mask, instances, height, width)?;
    let area = visible.area();
    let big_enough = area as f32 >= completeness_config.min_visible_fraction * complete_area as f32
        && visible.width.max(visible.height) >= min_size;
    big_enough.then(|| PlacedObject {
        label: SyntheticObject {
            bbox: [
                visible.x0 as f32,
                visible.y0 as f32,
                (visible.x0 + visible.width as i64) as f32,
                (visible.y0 + visible.height as i64) as f32,
            ],
            area,
            size: size as u32,
            kind,
            completeness: degraded,
        },
        mask: visible,
        level,
    })
}

impl ObjectConfig {
    /// The largest object size in pixels for a `height x width` frame.
    pub fn max_size(&self, height: usize, width: usize) -> usize {
        (self.max_size_fraction * height.min(width) as f32) as usize
    }
}

/// The part of `mask` inside the frame, trimmed to its set pixels; `None`
/// when nothing is visible or when it touches an object already placed
/// (sharing a pixel or a side with one).
fn visible_part(mask: &Mask, instances: &[u16], height: usize, width: usize) -> Option<Mask> {
    let mut visible = mask.clone();
    visible.data.fill(false);
    let occupied = |y: i64, x: i64| {
        (0..height as i64).contains(&y)
            && (0..width as i64).contains(&x)
            && instances[y as usize * width + x as usize] != 0
    };
    for y in 0..mask.height {
        for x in 0..mask.width {
            let (fy, fx) = (mask.y0 + y as i64, mask.x0 + x as i64);
            let inside = (0..height as i64).contains(&fy) && (0..width as i64).contains(&fx);
            if mask.get(y, x) && inside {
                let neighbours = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)];
                if neighbours
                    .iter()
                    .any(|&(dy, dx)| occupied(fy + dy, fx + dx))
                {
                    return None;
                }
                visible.set(y as i64, x as i64, true);
            }
        }
    }
    visible.bounds()?;
    visible.trim();
    Some(visible)
}

/// Intersection of two `[x0, y0, x1, y1]` boxes over the smaller one's area.
fn overlap_of_smaller(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    w * h / area(a).min(area(b)).max(1.0)
}

/// Paints the objects into `field`: a textured level (at least
/// `min_contrast` above the background under it) or, for faint objects,
/// the background plus their contrast.
pub(crate) fn paint(
    config: &ObjectConfig,
    rng: &mut SynthRng,
    objects: &[PlacedObject],
    background: &Field,
    field: &mut Field,
) {
    for object in objects {
        let mask = &object.mask;
        let cell = (object.label.size as f32 / 3.0).max(4.0);
        let texture = Field::value_noise(rng, mask.height, mask.width, cell);
        let amplitude = uniform(rng, config.texture);
        for y in 0..mask.height {
            for x in 0..mask.width {
                if !mask.get(y, x) {
                    continue;
                }
                let i = (mask.y0 as usize + y) * field.width + mask.x0 as usize + x;
                let bg = background.data[i];
                let wobble = amplitude * (2.0 * texture.at(y, x) - 1.0);
                let value = if object.label.completeness.faint {
                    bg + object.level + 0.5 * wobble.max(-object.level)
                } else {
                    (object.level + wobble).max(bg + config.min_contrast)
                };
                field.data[i] = value.clamp(0.0, 1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_overlap_is_relative_to_the_smaller_box() {
        let big = [0.0, 0.0, 100.0, 100.0];
        let small = [90.0, 90.0, 110.0, 110.0];
        assert!((overlap_of_smaller(&big, &small) - 0.25).abs() < 1e-6);
        assert_eq!(overlap_of_smaller(&big, &[100.0, 0.0, 120.0, 10.0]), 0.0);
    }

    #[test]
    fn a_mask_touching_a_placed_object_is_refused() {
        let mut instances = vec![0u16; 10 * 10];
        instances[5 * 10 + 5] = 1;
        let mut mask = Mask::empty(2, 2);
        mask.data.fill(true);
        (mask.x0, mask.y0) = (6, 5);
        assert!(visible_part(&mask, &instances, 10, 10).is_none());
        (mask.x0, mask.y0) = (7, 5);
        let visible = visible_part(&mask, &instances, 10, 10).unwrap();
        assert_eq!((visible.x0, visible.y0, visible.area()), (7, 5, 4));
        // Cut by the frame border: only the inside part remains.
        (mask.x0, mask.y0) = (9, -1);
        let visible = visible_part(&mask, &instances, 10, 10).unwrap();
        assert_eq!((visible.x0, visible.y0, visible.area()), (9, 0, 1));
    }
}
