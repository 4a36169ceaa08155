//! Anomaly scores from segmentation logits, higher = more anomalous, over
//! the first [`SCORED_CLASSES`] channels only (PEBAL's 20th output, the
//! abstention channel, never enters), as `compute_anomaly_score` in RPL's
//! `rpl.code/valid.py` and PEBAL's `code/model/wide_network.py`:
//!
//! - energy: `-T logsumexp(l / T)` (the references use T = 1);
//! - entropy: `-sum p log p / log 19`, in [0, 1] (RPL's `mode='entropy'`);
//! - max-logit (SML's starting point): `-max l`;
//! - max-softmax (MSP): `1 - max p`, in [0, 1 - 1/19]. The references do not
//!   have it; `1 - p` rather than `-p` keeps the map non-negative, and the
//!   evaluation min-max normalises baselines anyway.
//!
//! Log-probabilities come from `log_softmax`, so a probability that
//! underflows to zero contributes zero entropy instead of NaN.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;

/// The Cityscapes classes every score is computed over.
pub const SCORED_CLASSES: usize = 19;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreFunction {
    Energy { temperature: f32 },
    Entropy,
    MaxLogit,
    MaxSoftmax,
}

impl Default for ScoreFunction {
    /// The paper's choice: energy at temperature 1.
    fn default() -> Self {
        Self::Energy { temperature: 1.0 }
    }
}

impl ScoreFunction {
    /// Score maps `[B, H, W]` of logits `[B, C, H, W]` (C >= 19).
    pub fn score(&self, logits: Tensor<4>) -> Tensor<3> {
        let [b, c, h, w] = logits.dims();
        assert!(
            c >= SCORED_CLASSES,
            "anomaly scores need at least {SCORED_CLASSES} class logits, got {c}"
        );
        let logits = logits.narrow(1, 0, SCORED_CLASSES);
        let score = match *self {
            Self::Energy { temperature } => {
                let t = temperature as f64;
                logsumexp(logits.div_scalar(t)).mul_scalar(-t)
            }
            Self::Entropy => {
                let log_p = log_softmax(logits, 1);
                let p_log_p = log_p.clone().exp() * log_p;
                p_log_p.sum_dim(1).div_scalar(-(SCORED_CLASSES as f64).ln())
            }
            Self::MaxLogit => logits.max_dim(1).neg(),
            Self::MaxSoftmax => log_softmax(logits, 1)
                .max_dim(1)
                .exp()
                .neg()
                .add_scalar(1.0),
        };
        score.reshape([b, h, w])
    }
}

/// `log sum exp` over dimension 1, kept as a size-1 dimension.
fn logsumexp(x: Tensor<4>) -> Tensor<4> {
    let max = x.clone().max_dim(1);
    (x - max.clone()).exp().sum_dim(1).log() + max
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData, Tolerance};

    /// Logits `[1, C, 1, 1]` of one pixel.
    fn pixel(values: &[f32]) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [1, values.len(), 1, 1]),
            &Device::flex(),
        )
    }

    fn value(function: ScoreFunction, logits: &[f32]) -> f32 {
        function
            .score(pixel(logits))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()[0]
    }

    #[test]
    fn uniform_logits_have_entropy_one_and_the_lowest_max_softmax() {
        let uniform = [0.7f32; 19];
        assert!((value(ScoreFunction::Entropy, &uniform) - 1.0).abs() < 1e-6);
        assert!((value(ScoreFunction::MaxSoftmax, &uniform) - (1.0 - 1.0 / 19.0)).abs() < 1e-6);
        let energy = value(ScoreFunction::default(), &uniform);
        assert!((energy - -(0.7 + 19f32.ln())).abs() < 1e-5, "{energy}");
    }

    #[test]
    fn a_confident_pixel_scores_low() {
        let mut confident = [0.0f32; 19];
        confident[4] = 200.0;
        assert!(value(ScoreFunction::Entropy, &confident).abs() < 1e-6);
        assert!(value(ScoreFunction::MaxSoftmax, &confident).abs() < 1e-6);
        assert_eq!(value(ScoreFunction::MaxLogit, &confident), -200.0);
        // logsumexp stays finite where exp(200) alone would overflow f32.
        let energy = value(ScoreFunction::default(), &confident);
        assert!((energy + 200.0).abs() < 1e-4, "{energy}");
    }

    #[test]
    fn only_the_first_19_logits_enter() {
        let mut with_abstention = vec![0.3f32; 20];
        with_abstention[19] = 50.0;
        for function in [
            ScoreFunction::default(),
            ScoreFunction::Entropy,
            ScoreFunction::MaxLogit,
            ScoreFunction::MaxSoftmax,
        ] {
            let a = value(function, &with_abstention);
            let b = value(function, &with_abstention[..19]);
            assert_eq!(a, b, "{function:?}");
        }
    }

    #[test]
    fn energy_temperature_scales_logits_and_score() {
        let logits = [
            1.0f32, 3.0, -2.0, 0.5, 0.0, 2.0, 1.5, -1.0, 0.2, 0.4, 0.6, 0.8, 1.1, 1.3, -0.5, -0.7,
            2.5, 0.9, -3.0,
        ];
        let t = 2.0f32;
        let expected = -t * logits.iter().map(|l| (l / t).exp()).sum::<f32>().ln();
        let actual = value(ScoreFunction::Energy { temperature: t }, &logits);
        assert!((actual - expected).abs() < 1e-5, "{actual} vs {expected}");
    }

    #[test]
    fn maps_keep_batch_and_spatial_layout() {
        let device = Device::flex();
        // Pixel (b=1, y=0, x=1) is uniform, every other pixel confident.
        let mut values = vec![0.0f32; 2 * 19 * 2 * 3];
        for b in 0..2 {
            for p in 0..6 {
                let uniform = b == 1 && p == 1;
                values[(b * 19) * 6 + p] = if uniform { 0.0 } else { 100.0 };
            }
        }
        let logits = Tensor::<4>::from_data(TensorData::new(values, [2, 19, 2, 3]), &device);
        let map = ScoreFunction::Entropy.score(logits);
        let mut expected = vec![0.0f32; 12];
        expected[6 + 1] = 1.0;
        map.into_data().assert_approx_eq::<f32>(
            &TensorData::new(expected, [2, 2, 3]),
            Tolerance::absolute(1e-5),
        );
    }
}
