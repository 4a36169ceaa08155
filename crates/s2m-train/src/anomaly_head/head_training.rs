//! Training the anomaly head on cached embeddings: the embedding
//! standardised by the training tokens' per-channel mean and standard
//! deviation (REFERENCE.md's probe), binary cross-entropy between the
//! head's logit and each token's anomalous fraction (weighted by the
//! token's loss weight), Adam, frames shuffled into batches each epoch.
//! Every `held_out_every`-th frame is kept out of training and scored
//! after each epoch: token AP and FPR at 95 % TPR (s2m-eval's pixel
//! metrics on tokens; positives are tokens more than half anomalous,
//! negatives those under 1 %, the rest ignored, as the probe's recipe).
//!
//! Plain (unweighted) cross-entropy keeps the output a calibrated
//! probability: a head that says 0.3 is right about 30 % of the time on
//! frames like its training frames.

use burn::module::{Module, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::ModuleSnapshot;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use s2m_core::scorer::{EmbeddingHead, EmbeddingHeadConfig};
use s2m_eval::ground_truth::VoidPixels;
use s2m_eval::score_histogram::{PixelMetrics, ScoreHistogram};

use super::{CacheEntry, HeadError};

/// How the head is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadTrainingConfig {
    pub hidden_channels: usize,
    pub epochs: usize,
    /// Frames per Adam step.
    pub batch_frames: usize,
    pub learning_rate: f64,
    pub weight_decay: f32,
    /// Every this-many-th cached frame is held out (0: none).
    pub held_out_every: usize,
    pub seed: u64,
    /// Train the linear probe alone (REFERENCE.md's baseline): the
    /// context branch's output stays zero.
    pub probe_only: bool,
}

impl Default for HeadTrainingConfig {
    fn default() -> Self {
        Self {
            hidden_channels: EmbeddingHeadConfig::default().hidden_channels,
            epochs: 30,
            batch_frames: 8,
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            held_out_every: 10,
            seed: 0,
            probe_only: false,
        }
    }
}

/// One epoch's mean training loss and held-out token metrics.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub loss: f64,
    pub held_out: Option<TokenMetrics>,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TokenMetrics {
    pub average_precision: f64,
    pub fpr_at_95_tpr: f64,
    pub auroc: f64,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HeadTrainingReport {
    pub training_frames: usize,
    pub held_out_frames: usize,
    pub epochs: Vec<EpochReport>,
}

/// Trains a fresh head on `entries` on `device` (an autodiff device);
/// `on_epoch` hears of each epoch. The head comes back without gradients.
pub fn train_head(
    entries: &[CacheEntry],
    config: &HeadTrainingConfig,
    device: &Device,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<(EmbeddingHead, HeadTrainingReport), HeadError> {
    let Some(first) = entries.first() else {
        return Err(HeadError::Training("no cached frame to train on".into()));
    };
    let (channels, grid) = (first.channels, first.targets.grid);
    if let Some(odd) = entries
        .iter()
        .find(|e| e.channels != channels || e.targets.grid != grid)
    {
        return Err(HeadError::Training(format!(
            "frame {} has {} channels on a {} grid, the first has {channels} on {grid}",
            odd.name, odd.channels, odd.targets.grid
        )));
    }
    let held_out = |i: usize| {
        config.held_out_every > 0 && i % config.held_out_every == config.held_out_every - 1
    };
    let (training, validation): (Vec<_>, Vec<_>) =
        entries.iter().enumerate().partition(|(i, _)| !held_out(*i));
    let training: Vec<&CacheEntry> = training.into_iter().map(|(_, e)| e).collect();
    let validation: Vec<&CacheEntry> = validation.into_iter().map(|(_, e)| e).collect();
    if training.is_empty() {
        return Err(HeadError::Training("every cached frame is held out".into()));
    }

    let (mean, std) = token_statistics(&training, channels);
    let mut head = EmbeddingHeadConfig {
        embedding_channels: channels,
        hidden_channels: config.hidden_channels,
    }
    .init(device);
    head.mean = Param::from_tensor(Tensor::from_data(TensorData::new(mean, [channels]), device))
        .set_require_grad(false);
    head.std = Param::from_tensor(Tensor::from_data(TensorData::new(std, [channels]), device))
        .set_require_grad(false);
    if config.probe_only {
        head.output.weight = head
            .output
            .weight
            .map(|w| w.zeros_like())
            .set_require_grad(false);
        head.output.bias = head
            .output
            .bias
            .map(|b| b.map(|b| b.zeros_like()).set_require_grad(false));
    }

    let mut optimizer = AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay)))
        .init();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..training.len()).collect();
    let mut report = HeadTrainingReport {
        training_frames: training.len(),
        held_out_frames: validation.len(),
        epochs: Vec::new(),
    };
    for epoch in 1..=config.epochs {
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        let mut batches = 0;
        for batch in order.chunks(config.batch_frames.max(1)) {
            let frames: Vec<&CacheEntry> = batch.iter().map(|&i| training[i]).collect();
            let (embedding, target, weight) = batch_tensors(&frames, device);
            let logits = head.forward(embedding);
            let loss = weighted_bce(logits, target, weight);
            loss_sum += loss.clone().into_scalar::<f32>() as f64;
            batches += 1;
            let gradients = GradientsParams::from_grads(loss.backward(), &head);
            head = optimizer.step(config.learning_rate, head, gradients);
        }
        let line = EpochReport {
            epoch,
            loss: loss_sum / batches as f64,
            held_out: token_metrics(&head.valid(), &validation, device),
        };
        on_epoch(&line);
        report.epochs.push(line);
    }
    Ok((head.valid(), report))
}

/// Per-channel mean and standard deviation over the weighted tokens.
fn token_statistics(entries: &[&CacheEntry], channels: usize) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0.0f64; channels];
    let mut square = vec![0.0f64; channels];
    let mut count = 0.0f64;
    for entry in entries {
        let tokens = entry.targets.grid * entry.targets.grid;
        for (t, &w) in entry.targets.weight.iter().enumerate() {
            if w <= 0.0 {
                continue;
            }
            count += 1.0;
            for c in 0..channels {
                let v = entry.embedding[c * tokens + t] as f64;
                sum[c] += v;
                square[c] += v * v;
            }
        }
    }
    let count = count.max(1.0);
    let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
    let std = square
        .iter()
        .zip(&mean)
        .map(|(q, m)| ((q / count - m * m).max(0.0).sqrt()).max(1e-6) as f32)
        .collect();
    (mean.into_iter().map(|m| m as f32).collect(), std)
}

/// The embeddings `[N, C, G, G]`, targets and weights `[N, 1, G, G]` of
/// `frames`.
fn batch_tensors(frames: &[&CacheEntry], device: &Device) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
    let (n, c, g) = (frames.len(), frames[0].channels, frames[0].targets.grid);
    let gather = |f: &dyn Fn(&CacheEntry) -> &[f32]| -> Vec<f32> {
        frames.iter().flat_map(|e| f(e).iter().copied()).collect()
    };
    let embedding = Tensor::from_data(
        TensorData::new(gather(&|e| &e.embedding), [n, c, g, g]),
        device,
    );
    let target = Tensor::from_data(
        TensorData::new(gather(&|e| &e.targets.anomaly), [n, 1, g, g]),
        device,
    );
    let weight = Tensor::from_data(
        TensorData::new(gather(&|e| &e.targets.weight), [n, 1, g, g]),
        device,
    );
    (embedding, target, weight)
}

/// Binary cross-entropy of `logits` against the soft `target`, averaged
/// with `weight`.
fn weighted_bce(logits: Tensor<4>, target: Tensor<4>, weight: Tensor<4>) -> Tensor<1> {
    let per_token = -(target.clone() * log_sigmoid(logits.clone())
        + (target.neg().add_scalar(1.0)) * log_sigmoid(logits.neg()));
    let total = weight.clone().sum().clamp_min(1.0);
    (per_token * weight).sum() / total
}

/// Token AP / FPR95 / AUROC of `head` on `entries` (`None` without any).
fn token_metrics(
    head: &EmbeddingHead,
    entries: &[&CacheEntry],
    device: &Device,
) -> Option<TokenMetrics> {
    let device = device.clone().inner();
    let mut histogram = ScoreHistogram::default();
    for chunk in entries.chunks(8) {
        let (embedding, _, _) = batch_tensors(chunk, &device);
        let logits: Vec<f32> = head
            .forward(embedding)
            .into_data()
            .try_to_vec::<f32>()
            .ok()?;
        let tokens = chunk[0].targets.grid * chunk[0].targets.grid;
        for (entry, logits) in chunk.iter().zip(logits.chunks(tokens)) {
            let labels: Vec<u8> = entry
                .targets
                .anomaly
                .iter()
                .zip(&entry.targets.weight)
                .map(|(&a, &w)| match (w > 0.0, a) {
                    (true, a) if a > 0.5 => 1,
                    (true, a) if a < 0.01 => 0,
                    _ => 255,
                })
                .collect();
            histogram.add(logits, &labels, VoidPixels::Excluded);
        }
    }
    let PixelMetrics {
        average_precision,
        fpr_at_95_tpr,
        auroc,
        ..
    } = histogram.metrics()?;
    Some(TokenMetrics {
        average_precision,
        fpr_at_95_tpr,
        auroc,
    })
}

/// The safetensors bytes of a trained `head` (f32, our tensor names) with
/// `metadata` (how it was trained, what it measured).
pub fn head_bytes(head: &EmbeddingHead, metadata: &[(&str, String)]) -> Result<Vec<u8>, HeadError> {
    let mut store = burn::store::SafetensorsStore::from_bytes(None)
        .with_to_adapter(burn::store::BurnToPyTorchAdapter);
    for (key, value) in metadata {
        store = store.metadata(*key, value.clone());
    }
    head.clone()
        .save_into(&mut store)
        .map_err(|e| HeadError::Training(format!("serialising the head failed: {e}")))?;
    store
        .get_bytes()
        .map_err(|e| HeadError::Training(format!("serialising the head failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly_head::TokenTargets;
    use s2m_core::weights::load_embedding_head;

    /// Frames whose anomalous tokens differ from the others in a few
    /// channels: the head must find them.
    fn toy_entries(count: usize) -> Vec<CacheEntry> {
        let (c, g) = (6, 8);
        (0..count)
            .map(|f| {
                let anomaly: Vec<f32> = (0..g * g)
                    .map(|t| if (t + f) % 7 == 0 { 1.0 } else { 0.0 })
                    .collect();
                let embedding = (0..c * g * g)
                    .map(|i| {
                        let (ch, t) = (i / (g * g), i % (g * g));
                        let noise = ((i * 7919 + f * 104729) % 1000) as f32 / 1000.0 - 0.5;
                        noise + if ch < 2 { 1.5 * anomaly[t] } else { 0.0 }
                    })
                    .collect();
                CacheEntry {
                    name: format!("frame{f}"),
                    channels: c,
                    targets: TokenTargets {
                        grid: g,
                        anomaly,
                        weight: vec![1.0; g * g],
                    },
                    embedding,
                }
            })
            .collect()
    }

    #[test]
    fn training_on_tiny_data_separates_the_anomalous_tokens() {
        let device = Device::flex().autodiff();
        let config = HeadTrainingConfig {
            hidden_channels: 4,
            epochs: 15,
            batch_frames: 4,
            learning_rate: 1e-2,
            held_out_every: 5,
            ..HeadTrainingConfig::default()
        };
        let entries = toy_entries(20);
        let mut seen = 0;
        let (head, report) = train_head(&entries, &config, &device, |_| seen += 1).unwrap();
        assert_eq!(
            (seen, report.training_frames, report.held_out_frames),
            (15, 16, 4)
        );
        let first = report.epochs[0].loss;
        let last = report.epochs.last().unwrap();
        assert!(last.loss < first * 0.7, "loss {first} -> {}", last.loss);
        let metrics = last.held_out.unwrap();
        assert!(metrics.average_precision > 0.95, "{metrics:?}");

        // The saved head loads back as the scorer and scores the same.
        let bytes = head_bytes(&head, &[("s2m.test", "1".into())]).unwrap();
        let loaded = load_embedding_head(bytes, "head.safetensors", &Device::flex()).unwrap();
        let (embedding, _, _) = batch_tensors(&[&entries[0]], &Device::flex());
        let a: Vec<f32> = head
            .forward(embedding.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b: Vec<f32> = loaded
            .forward(embedding)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }

    #[test]
    fn the_probe_alone_leaves_the_context_branch_silent() {
        let device = Device::flex().autodiff();
        let config = HeadTrainingConfig {
            hidden_channels: 4,
            epochs: 3,
            learning_rate: 1e-2,
            probe_only: true,
            ..HeadTrainingConfig::default()
        };
        let (head, report) = train_head(&toy_entries(10), &config, &device, |_| {}).unwrap();
        let output: Vec<f32> = head.output.weight.val().into_data().try_to_vec().unwrap();
        assert!(output.iter().all(|&w| w == 0.0));
        assert!(report.epochs[2].loss < report.epochs[0].loss);
    }

    #[test]
    fn mismatched_or_empty_caches_are_errors() {
        let device = Device::flex().autodiff();
        let config = HeadTrainingConfig::default();
        assert!(train_head(&[], &config, &device, |_| {}).is_err());
        let mut entries = toy_entries(3);
        entries[2].channels = 5;
        let error = train_head(&entries, &config, &device, |_| {}).unwrap_err();
        assert!(error.to_string().contains("frame2"), "{error}");
    }
}
