//! From the latent score (see the module documentation of
//! [`crate::synthesis`]) to the values of a real scorer. A map takes one of
//! two value ranges:
//! - **energy** (RPL, PEBAL: `-logsumexp` of 19 logits): latent 0 maps to
//!   a strongly negative energy, about -17 to -13, latent 1 to about 2 to
//!   6, so the background lands near -16 to -8, boundaries near -10 to -2
//!   and anomalies near -4 to 5;
//! - **unit** (normalised entropy, 1 - max-softmax, S2M's confidence):
//!   `[0, 1]`, the latent score raised to a power of 1 to 2, which pushes
//!   the background towards 0 as those scores do.
//!
//! The bounds and exponent are drawn per map, so the prompt generator
//! cannot rely on absolute values.

use super::sampling::{SynthRng, chance, uniform};
use serde::{Deserialize, Serialize};

/// Which kind of scorer a map imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RangeKind {
    /// Energy scores: negative for inliers, around 0 and above for anomalies.
    Energy,
    /// Scores in `[0, 1]`.
    Unit,
}

/// The knobs of the value range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValueRangeConfig {
    /// Probability that a map is an energy map rather than a `[0, 1]` map.
    pub energy_probability: f32,
    /// Energy of latent score 0.
    pub energy_low: [f32; 2],
    /// Energy of latent score 1.
    pub energy_high: [f32; 2],
    /// Exponent applied to the latent score of energy maps.
    pub energy_gamma: [f32; 2],
    /// Exponent applied to the latent score of `[0, 1]` maps.
    pub unit_gamma: [f32; 2],
}

impl Default for ValueRangeConfig {
    fn default() -> Self {
        Self {
            energy_probability: 0.5,
            energy_low: [-17.0, -13.0],
            energy_high: [2.0, 6.0],
            energy_gamma: [0.8, 1.25],
            unit_gamma: [1.0, 2.0],
        }
    }
}

/// The value range of one map: `value = low + (high - low) * latent^gamma`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueRange {
    pub kind: RangeKind,
    /// The value of latent score 0.
    pub low: f32,
    /// The value of latent score 1.
    pub high: f32,
    pub gamma: f32,
}

impl ValueRange {
    /// Draws the range of one map.
    pub(crate) fn sample(config: &ValueRangeConfig, rng: &mut SynthRng) -> Self {
        if chance(rng, config.energy_probability) {
            Self {
                kind: RangeKind::Energy,
                low: uniform(rng, config.energy_low),
                high: uniform(rng, config.energy_high),
                gamma: uniform(rng, config.energy_gamma),
            }
        } else {
            Self {
                kind: RangeKind::Unit,
                low: 0.0,
                high: 1.0,
                gamma: uniform(rng, config.unit_gamma),
            }
        }
    }

    /// The value of a latent score (clamped to `[0, 1]` first).
    pub fn apply(&self, latent: f32) -> f32 {
        self.low + (self.high - self.low) * latent.clamp(0.0, 1.0).powf(self.gamma)
    }

    /// Where `value` lies between `low` (0) and `high` (1), for display.
    pub fn normalise(&self, value: f32) -> f32 {
        ((value - self.low) / (self.high - self.low)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn both_kinds_occur_and_map_into_their_bounds() {
        let config = ValueRangeConfig::default();
        let mut rng = SynthRng::seed_from_u64(0);
        let ranges: Vec<ValueRange> = (0..100)
            .map(|_| ValueRange::sample(&config, &mut rng))
            .collect();
        assert!(ranges.iter().any(|r| r.kind == RangeKind::Energy));
        assert!(ranges.iter().any(|r| r.kind == RangeKind::Unit));
        for r in ranges {
            let (lo, hi) = match r.kind {
                RangeKind::Energy => (config.energy_low[0], config.energy_high[1]),
                RangeKind::Unit => (0.0, 1.0),
            };
            for latent in [-0.5, 0.0, 0.2, 0.5, 0.9, 1.0, 1.5] {
                let v = r.apply(latent);
                assert!((lo..=hi).contains(&v), "{r:?}: {latent} -> {v}");
            }
            // Monotone: more anomalous latent, higher value.
            assert!(r.apply(0.3) < r.apply(0.7));
            assert!((r.normalise(r.apply(0.4)) - 0.4f32.powf(r.gamma)).abs() < 1e-5);
        }
    }
}
