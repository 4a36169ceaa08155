//! The smooth, low background of a score map: what an anomaly scorer
//! returns on road, cars, buildings and sky. A per-map base level, a
//! horizon (the road below scores lowest and most uniformly; far, cluttered
//! regions around the horizon and the scene above it score a little
//! higher) and two octaves of value noise (large regions such as
//! vegetation or shadows, and finer texture).

use super::field::Field;
use super::sampling::{SynthRng, uniform};
use serde::{Deserialize, Serialize};

/// The knobs of the background, in latent units (see [`crate::synthesis`]).
/// Intervals are drawn once per map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackgroundConfig {
    /// Base level of the road.
    pub level: [f32; 2],
    /// Row of the horizon, as a fraction of the height from the top.
    pub horizon: [f32; 2],
    /// Extra score of everything above the horizon.
    pub above_horizon: [f32; 2],
    /// Extra score along the horizon (small, distant clutter), fading over
    /// a tenth of the height on either side.
    pub horizon_glow: [f32; 2],
    /// Amplitude of the large-scale noise (plus or minus).
    pub coarse_amplitude: [f32; 2],
    /// Cell size of the large-scale noise, as a fraction of the height.
    pub coarse_cell: f32,
    /// Amplitude of the fine noise (plus or minus).
    pub fine_amplitude: [f32; 2],
    /// Cell size of the fine noise, as a fraction of the height (two
    /// octaves, this size and 0.6 times it, so no grid shows).
    pub fine_cell: f32,
    /// The background never exceeds this level (objects stand above it).
    pub max_level: f32,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            level: [0.06, 0.18],
            horizon: [0.3, 0.55],
            above_horizon: [0.0, 0.08],
            horizon_glow: [0.0, 0.1],
            coarse_amplitude: [0.02, 0.08],
            coarse_cell: 0.3,
            fine_amplitude: [0.005, 0.03],
            fine_cell: 0.04,
            max_level: 0.35,
        }
    }
}

/// A background drawn from `config`, with the row of its horizon.
pub(crate) struct Background {
    pub field: Field,
    pub horizon: f32,
}

/// Draws a `height x width` background.
pub(crate) fn generate(
    config: &BackgroundConfig,
    rng: &mut SynthRng,
    height: usize,
    width: usize,
) -> Background {
    let level = uniform(rng, config.level);
    let horizon = uniform(rng, config.horizon) * height as f32;
    let above = uniform(rng, config.above_horizon);
    let glow = uniform(rng, config.horizon_glow);
    let coarse_amplitude = uniform(rng, config.coarse_amplitude);
    let fine_amplitude = uniform(rng, config.fine_amplitude);
    let h = height as f32;
    let coarse = Field::value_noise(rng, height, width, config.coarse_cell * h);
    let fine = Field::value_noise(rng, height, width, config.fine_cell * h);
    let finer = Field::value_noise(rng, height, width, 0.6 * config.fine_cell * h);

    // Per-row profile: a soft step at the horizon plus a glow around it.
    let fade = 0.1 * h;
    let profile: Vec<f32> = (0..height)
        .map(|y| {
            let d = (y as f32 + 0.5 - horizon) / fade;
            let step = 1.0 / (1.0 + (4.0 * d).exp());
            level + above * step + glow * (-d * d).exp()
        })
        .collect();
    let mut field = coarse;
    for (y, row) in field.data.chunks_exact_mut(width).enumerate() {
        let fine_row = fine.data[y * width..(y + 1) * width].iter();
        let finer_row = finer.data[y * width..(y + 1) * width].iter();
        for ((v, f), g) in row.iter_mut().zip(fine_row).zip(finer_row) {
            let noise = coarse_amplitude * (2.0 * *v - 1.0) + fine_amplitude * (f + g - 1.0);
            *v = (profile[y] + noise).clamp(0.0, config.max_level);
        }
    }
    Background { field, horizon }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn background_is_low_and_higher_above_the_horizon() {
        let config = BackgroundConfig {
            above_horizon: [0.08, 0.08],
            coarse_amplitude: [0.02, 0.02],
            ..BackgroundConfig::default()
        };
        let bg = generate(&config, &mut SynthRng::seed_from_u64(5), 128, 256);
        assert!(bg.field.data.iter().all(|&v| (0.0..=0.35).contains(&v)));
        let row_mean = |y: usize| bg.field.data[y * 256..(y + 1) * 256].iter().sum::<f32>() / 256.0;
        let top = (0..10).map(row_mean).sum::<f32>() / 10.0;
        let bottom = (118..128).map(row_mean).sum::<f32>() / 10.0;
        assert!(top > bottom, "top {top} bottom {bottom}");
    }
}
