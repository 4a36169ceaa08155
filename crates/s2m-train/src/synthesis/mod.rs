//! Score-map synthesis: realistic anomaly score maps with labelled objects,
//! for training the prompt generator when no scorer or no dataset is at
//! hand (issue #4).
//!
//! The prompt generator (REFERENCE.md, "Prompt generator") reads an
//! anomaly score map and returns one box per anomalous object. A map from
//! [`synthesize`] is built the way a real one looks (one file each):
//!
//! 1. `background.rs`: a smooth, low background with a horizon;
//! 2. `boundaries.rs`: thin, moderately high curves along would-be class
//!    boundaries (horizon, road edges, pole and building edges, hollow
//!    outlines of inlier objects);
//! 3. `objects.rs`: zero to several objects, each labelled with the tight
//!    box of its visible pixels: blobs, polygons, poles and people-like
//!    figures from 8 px to half the frame (`shapes.rs`), fragmented,
//!    holey, partly occluded or faint (`completeness.rs`);
//! 4. `distractors.rs`: speckle, impulses and small, sometimes saturated
//!    false-positive spots, all smaller than any object;
//! 5. the scorer's Gaussian blur (RPL: kernel 7, sigma 1; `field.rs`);
//! 6. `value_range.rs`: the values of an energy scorer or a `[0, 1]`
//!    score.
//!
//! # The latent score
//!
//! Steps 1 to 5 work on a latent score in `[0, 1]`: 0 is the most
//! confident inlier, 1 the strongest anomaly. With the default knobs the
//! background lies in 0.05 to 0.35, boundaries in 0.3 to 0.6 (up to 0.8
//! where they peak), objects in 0.6 to 1 and at least 0.25 above the
//! background under them (faint ones only 0.12 to 0.25 above it), spots in
//! 0.6 to 1. Step 6 maps it to energies (latent 0 near -15, latent 1 near
//! 4) or to `[0, 1]` ([`ValueRangeConfig`]).
//!
//! Every knob lives in [`SynthesisConfig`]; a seed reproduces a map
//! exactly (ChaCha8 gives the same random stream on every platform; `exp`,
//! `sin` and the like may differ in the last bit between platforms' maths
//! libraries). A 512 x 1024 map takes about 17 ms in the dev profile, so
//! training can draw maps online. [`SyntheticMap::preview`] renders a map
//! with its boxes; the crate's README shows samples.

mod background;
mod boundaries;
mod completeness;
mod distractors;
mod field;
mod mask;
mod objects;
mod preview;
mod sampling;
mod shapes;
#[cfg(test)]
mod tests;
mod value_range;

pub use background::BackgroundConfig;
pub use boundaries::{BoundaryConfig, BoundaryFamilies};
pub use completeness::{Completeness, CompletenessConfig};
pub use distractors::DistractorConfig;
pub use objects::ObjectConfig;
pub use shapes::{ShapeConfig, ShapeKind, ShapeWeights};
pub use value_range::{RangeKind, ValueRange, ValueRangeConfig};

use field::Field;
use rand::SeedableRng;
use sampling::SynthRng;
use serde::{Deserialize, Serialize};

/// Every knob of the synthesis. The defaults give maps like the samples
/// in the crate's README.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthesisConfig {
    /// Map height in pixels.
    pub height: usize,
    /// Map width in pixels.
    pub width: usize,
    pub background: BackgroundConfig,
    pub boundaries: BoundaryConfig,
    pub objects: ObjectConfig,
    pub shapes: ShapeConfig,
    pub completeness: CompletenessConfig,
    pub distractors: DistractorConfig,
    /// Standard deviation in pixels of the final Gaussian blur (the
    /// scorer's: RPL blurs its energy with kernel 7, sigma 1); 0 for none.
    pub blur_sigma: f32,
    pub value_range: ValueRangeConfig,
}

impl Default for SynthesisConfig {
    fn default() -> Self {
        Self {
            // Cityscapes frames at half resolution.
            height: 512,
            width: 1024,
            background: BackgroundConfig::default(),
            boundaries: BoundaryConfig::default(),
            objects: ObjectConfig::default(),
            shapes: ShapeConfig::default(),
            completeness: CompletenessConfig::default(),
            distractors: DistractorConfig::default(),
            blur_sigma: 1.0,
            value_range: ValueRangeConfig::default(),
        }
    }
}

/// A configuration that cannot produce maps.
#[derive(Debug, thiserror::Error)]
pub enum SynthesisError {
    #[error("invalid synthesis config: {knob} {problem}")]
    InvalidConfig { knob: &'static str, problem: String },
}

/// One object of a [`SyntheticMap`]: the label the prompt generator learns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyntheticObject {
    /// Tight box of the visible pixels, `[x0, y0, x1, y1]` in pixels of
    /// the map with `x1` = last column + 1 and `y1` = last row + 1.
    pub bbox: [f32; 4],
    /// Number of visible pixels.
    pub area: usize,
    /// Longer side of the complete silhouette (before degradations and
    /// the frame border), in pixels.
    pub size: u32,
    pub kind: ShapeKind,
    pub completeness: Completeness,
}

/// A synthetic anomaly score map and its objects.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticMap {
    pub height: usize,
    pub width: usize,
    /// Scores, row-major, in the map's [`ValueRange`].
    pub values: Vec<f32>,
    /// The value range the scores were mapped to.
    pub range: ValueRange,
    /// The labelled objects, in the order of `instances`.
    pub objects: Vec<SyntheticObject>,
    /// Row-major object index per pixel: 0 for none, `k` for the visible
    /// pixels of `objects[k - 1]` (before the final blur).
    pub instances: Vec<u16>,
}

/// Synthesises the map of `seed`: the same config and seed give the same
/// map.
pub fn synthesize(config: &SynthesisConfig, seed: u64) -> Result<SyntheticMap, SynthesisError> {
    config.validate()?;
    let mut rng = SynthRng::seed_from_u64(seed);
    let (height, width) = (config.height, config.width);
    let range = ValueRange::sample(&config.value_range, &mut rng);
    let background = background::generate(&config.background, &mut rng, height, width);
    let mut latent = background.field.clone();
    boundaries::draw(
        &config.boundaries,
        &mut rng,
        &mut latent,
        background.horizon,
    );
    let (placed, instances) = objects::place(
        &config.objects,
        &config.shapes,
        &config.completeness,
        &mut rng,
        height,
        width,
    );
    objects::paint(
        &config.objects,
        &mut rng,
        &placed,
        &background.field,
        &mut latent,
    );
    distractors::draw(&config.distractors, &mut rng, &mut latent, &instances);
    latent.blur(config.blur_sigma);
    let Field { data, .. } = latent;
    Ok(SyntheticMap {
        height,
        width,
        values: data.into_iter().map(|v| range.apply(v)).collect(),
        range,
        objects: placed.into_iter().map(|p| p.label).collect(),
        instances,
    })
}

impl SynthesisConfig {
    /// Checks every knob: sizes that fit the frame, ordered intervals,
    /// probabilities and latent levels in `[0, 1]`, usable weights, spots
    /// smaller than the smallest object.
    pub fn validate(&self) -> Result<(), SynthesisError> {
        let b = &self.background;
        let l = &self.boundaries;
        let o = &self.objects;
        let s = &self.shapes;
        let c = &self.completeness;
        let d = &self.distractors;
        let v = &self.value_range;
        let unit = [0.0, 1.0];
        let positive = [f32::MIN_POSITIVE, f32::MAX];
        let any = [f32::MIN, f32::MAX];

        // Latent levels and fractions.
        for (knob, range) in [
            ("background.level", b.level),
            ("background.horizon", b.horizon),
            ("background.above_horizon", b.above_horizon),
            ("background.horizon_glow", b.horizon_glow),
            ("background.coarse_amplitude", b.coarse_amplitude),
            ("background.fine_amplitude", b.fine_amplitude),
            ("boundaries.level", l.level),
            ("boundaries.outline_size", l.outline_size),
            ("objects.centre_x", o.centre_x),
            ("objects.centre_y", o.centre_y),
            ("objects.level", o.level),
            ("objects.texture", o.texture),
            ("shapes.aspect", s.aspect),
            ("completeness.fragment_fraction", c.fragment_fraction),
            ("completeness.hole_size", c.hole_size),
            ("completeness.faint_contrast", c.faint_contrast),
            ("distractors.speckle", d.speckle),
            ("distractors.impulse_density", d.impulse_density),
            ("distractors.impulse_level", d.impulse_level),
            ("distractors.spot_level", d.spot_level),
        ] {
            interval(knob, range, unit)?;
        }
        interval(
            "completeness.occlusion_fraction",
            c.occlusion_fraction,
            [0.0, 0.8],
        )?;
        interval("boundaries.width", l.width, positive)?;
        interval("shapes.pole_aspect", s.pole_aspect, [1.0, f32::MAX])?;
        interval("distractors.spot_diameter", d.spot_diameter, positive)?;
        interval("value_range.energy_low", v.energy_low, any)?;
        interval("value_range.energy_high", v.energy_high, any)?;
        interval("value_range.energy_gamma", v.energy_gamma, positive)?;
        interval("value_range.unit_gamma", v.unit_gamma, positive)?;
        if v.energy_low[1] >= v.energy_high[0] {
            return invalid(
                "value_range.energy_low",
                "must stay below value_range.energy_high",
            );
        }

        for (knob, p) in [
            ("background.max_level", b.max_level),
            ("boundaries.level_variation", l.level_variation),
            ("boundaries.gap_probability", l.gap_probability),
            ("objects.min_contrast", o.min_contrast),
            ("objects.max_box_overlap", o.max_box_overlap),
            ("shapes.pole_sign_probability", s.pole_sign_probability),
            ("completeness.fragment_probability", c.fragment_probability),
            ("completeness.hole_probability", c.hole_probability),
            (
                "completeness.occlusion_probability",
                c.occlusion_probability,
            ),
            ("completeness.faint_probability", c.faint_probability),
            ("completeness.min_visible_fraction", c.min_visible_fraction),
            (
                "distractors.saturated_spot_probability",
                d.saturated_spot_probability,
            ),
            ("value_range.energy_probability", v.energy_probability),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return invalid(knob, format!("= {p}, expected a value in [0, 1]"));
            }
        }
        for (knob, x) in [
            ("background.coarse_cell", b.coarse_cell),
            ("background.fine_cell", b.fine_cell),
            ("boundaries.piece_length", l.piece_length),
            ("shapes.blob_roughness", s.blob_roughness),
            ("shapes.max_tilt_degrees", s.max_tilt_degrees),
            ("blur_sigma", self.blur_sigma),
        ] {
            if !(x.is_finite() && x >= 0.0) {
                return invalid(knob, format!("= {x}, expected a finite value >= 0"));
            }
        }

        for (knob, [lo, hi]) in [
            ("boundaries.count", l.count),
            ("shapes.polygon_vertices", s.polygon_vertices),
            ("completeness.holes", c.holes),
            ("distractors.spot_count", d.spot_count),
        ] {
            if lo > hi {
                return invalid(knob, format!("= [{lo}, {hi}], expected min <= max"));
            }
        }
        weights("objects.count_weights", &o.count_weights)?;
        weights("shapes.weights", &s.weights.to_array())?;
        weights("boundaries.families", &l.families.to_array())?;
        if o.count_weights.len() > usize::from(u16::MAX) {
            return invalid(
                "objects.count_weights",
                "allows more objects than an instance map holds",
            );
        }
        if o.attempts == 0 {
            return invalid("objects.attempts", "must be at least 1");
        }

        if o.min_size < 2 {
            return invalid(
                "objects.min_size",
                format!("= {}, expected >= 2", o.min_size),
            );
        }
        let max_size = o.max_size(self.height, self.width);
        if max_size < o.min_size as usize {
            return invalid(
                "objects.max_size_fraction",
                format!(
                    "gives {max_size} px in a {}x{} frame, below objects.min_size = {}",
                    self.height, self.width, o.min_size
                ),
            );
        }
        if d.spot_diameter[1].ceil() >= o.min_size as f32 {
            return invalid(
                "distractors.spot_diameter",
                format!(
                    "up to {} px is not below objects.min_size = {}: spots would look like objects",
                    d.spot_diameter[1], o.min_size
                ),
            );
        }
        Ok(())
    }
}

fn invalid(knob: &'static str, problem: impl Into<String>) -> Result<(), SynthesisError> {
    Err(SynthesisError::InvalidConfig {
        knob,
        problem: problem.into(),
    })
}

/// Checks a `[min, max]` interval: finite, ordered, inside `bounds`.
fn interval(
    knob: &'static str,
    [min, max]: [f32; 2],
    bounds: [f32; 2],
) -> Result<(), SynthesisError> {
    if !(min.is_finite() && max.is_finite() && min <= max && min >= bounds[0] && max <= bounds[1]) {
        return invalid(
            knob,
            format!(
                "= [{min}, {max}], expected min <= max within [{}, {}]",
                bounds[0], bounds[1]
            ),
        );
    }
    Ok(())
}

/// Checks relative weights: non-negative, finite, some positive.
fn weights(knob: &'static str, weights: &[f32]) -> Result<(), SynthesisError> {
    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || weights.iter().sum::<f32>() <= 0.0 {
        return invalid(
            knob,
            format!("= {weights:?}, expected non-negative weights, some positive"),
        );
    }
    Ok(())
}
