//! Parts of a run -> the run's results (module docs of [`super`]).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::part::{FORMAT_VERSION, FRAMES_FILE, PART_FILE, PartManifest, SkippedFrame};
use super::{Method, ScoreKind, Settings};
use crate::components::{ComponentCounts, ComponentMetrics, FrameComponents, TAUS};
use crate::ground_truth::ANOMALY;
use crate::score_histogram::{PixelMetrics, ScoreHistogram};
use crate::threshold_curve::{
    FrameCurve, MeanCurve, ScoreRange, THRESHOLD_STEPS, ThresholdMetrics, mask_iou,
};

/// Bins of the score histograms in the results (for the report's plots).
pub const HISTOGRAM_BINS: usize = 50;

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub dataset: String,
    pub dataset_frames: usize,
    pub shards: usize,
    pub settings: Settings,
    pub methods: Vec<MethodResults>,
    /// One row per evaluated frame, in dataset order.
    pub images: Vec<ImageRow>,
    pub skipped: Vec<SkippedFrame>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodResults {
    pub method: Method,
    /// The raw scores normalised thresholds 0 and 1 stand for.
    pub range: ScoreRange,
    /// S2M's metrics over the 101 thresholds.
    pub threshold: ThresholdMetrics,
    /// Mean IoU over images of the threshold-free mask (confidence > 0);
    /// only for a confidence map.
    pub threshold_free_iou: Option<f64>,
    pub iou_curve: Vec<f64>,
    pub f1_curve: Vec<f64>,
    /// SMIYC's pixel metrics; `None` when the dataset lacks anomaly or
    /// inlier pixels.
    pub pixel: Option<PixelMetrics>,
    /// The raw threshold of the component metrics (prediction >= it), or
    /// `None` for a confidence map (prediction > 0).
    pub component_threshold: Option<f32>,
    pub components: ComponentMetrics,
    pub component_f1_by_tau: Vec<(f64, f64)>,
    pub histogram: ScoreHistogramSummary,
}

/// Judged pixels per score interval, anomaly and inlier apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreHistogramSummary {
    pub low: f32,
    pub high: f32,
    pub anomaly: Vec<u64>,
    pub inlier: Vec<u64>,
}

/// One frame's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRow {
    pub index: usize,
    pub name: String,
    pub anomaly_pixels: u64,
    /// Per method: IoU of the threshold-free mask (confidence map) or at
    /// the method's best dataset threshold (scores).
    pub iou: Vec<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum FinaliseError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Part { path: PathBuf, message: String },
    #[error("the parts do not belong to one run: {0}")]
    Mismatch(String),
}

/// One part's frame file, read record by record.
struct FrameReader {
    path: PathBuf,
    reader: BufReader<File>,
    /// The dataset indices still to come, in order.
    pending: std::collections::VecDeque<usize>,
}

/// A frame read back.
struct FrameRecord {
    height: usize,
    width: usize,
    labels: Vec<u8>,
    scores: Vec<Vec<f32>>,
}

impl FrameReader {
    fn read(&mut self, index: usize, methods: usize) -> Result<FrameRecord, FinaliseError> {
        let corrupt = |message: String| FinaliseError::Part {
            path: self.path.clone(),
            message,
        };
        let mut header = [0u8; 16];
        self.reader
            .read_exact(&mut header)
            .map_err(|e| corrupt(format!("frame {index}: {e} (truncated?)")))?;
        let stored = u64::from_le_bytes(header[0..8].try_into().unwrap()) as usize;
        let height = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
        let width = u32::from_le_bytes(header[12..16].try_into().unwrap()) as usize;
        if stored != index {
            return Err(corrupt(format!(
                "holds frame {stored} where part.json says {index}"
            )));
        }
        let pixels = height
            .checked_mul(width)
            .filter(|&p| p <= crate::MAX_FRAME_PIXELS)
            .ok_or_else(|| corrupt(format!("frame {index}: {height}x{width} is too large")))?;
        let mut labels = vec![0u8; pixels];
        self.reader
            .read_exact(&mut labels)
            .map_err(|e| corrupt(format!("frame {index} labels: {e}")))?;
        let mut bytes = vec![0u8; pixels * 4];
        let mut scores = Vec::with_capacity(methods);
        for m in 0..methods {
            self.reader
                .read_exact(&mut bytes)
                .map_err(|e| corrupt(format!("frame {index} method {m}: {e}")))?;
            scores.push(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
            );
        }
        Ok(FrameRecord {
            height,
            width,
            labels,
            scores,
        })
    }
}

fn read_manifest(dir: &Path) -> Result<PartManifest, FinaliseError> {
    let path = dir.join(PART_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| FinaliseError::Io {
        path: path.clone(),
        source,
    })?;
    let manifest: PartManifest = serde_json::from_str(&text).map_err(|e| FinaliseError::Part {
        path: path.clone(),
        message: format!("not a part of `s2m eval` ({e})"),
    })?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(FinaliseError::Part {
            path,
            message: format!(
                "format version {} (this s2m reads {FORMAT_VERSION})",
                manifest.format_version
            ),
        });
    }
    Ok(manifest)
}

/// Checks that `manifests` (read from `parts`) are the shards of one run,
/// each exactly once; returns the shard count.
fn check_parts(manifests: &[PartManifest], parts: &[PathBuf]) -> Result<usize, FinaliseError> {
    let first = manifests
        .first()
        .ok_or_else(|| FinaliseError::Mismatch("no part given".into()))?;
    let shards = first.shard.1;
    let mut seen = vec![false; shards];
    for (m, dir) in manifests.iter().zip(parts) {
        let what = |field: &str| {
            FinaliseError::Mismatch(format!(
                "{} has another {field} than {}",
                dir.display(),
                parts[0].display()
            ))
        };
        if m.dataset != first.dataset || m.dataset_frames != first.dataset_frames {
            return Err(what("dataset"));
        }
        if m.methods != first.methods {
            return Err(what("method list"));
        }
        if m.settings != first.settings {
            return Err(what("void / component setting"));
        }
        if m.shard.1 != shards || m.shard.0 >= shards {
            return Err(what("shard count"));
        }
        if std::mem::replace(&mut seen[m.shard.0], true) {
            return Err(FinaliseError::Mismatch(format!(
                "shard {}/{shards} given twice",
                m.shard.0 + 1
            )));
        }
    }
    let missing: Vec<String> = (0..shards)
        .filter(|&k| !seen[k])
        .map(|k| format!("{}/{shards}", k + 1))
        .collect();
    if !missing.is_empty() {
        return Err(FinaliseError::Mismatch(format!(
            "missing shards {}",
            missing.join(", ")
        )));
    }
    Ok(shards)
}

/// Per method, the parts' histograms added up and their score ranges
/// joined.
fn merge_accumulators(
    manifests: &[PartManifest],
    parts: &[PathBuf],
    methods: usize,
) -> Result<(Vec<ScoreHistogram>, Vec<Option<ScoreRange>>), FinaliseError> {
    let mut histograms: Vec<ScoreHistogram> =
        (0..methods).map(|_| ScoreHistogram::default()).collect();
    let mut ranges: Vec<Option<ScoreRange>> = vec![None; methods];
    for (m, dir) in manifests.iter().zip(parts) {
        let corrupt = |message: String| FinaliseError::Part {
            path: dir.join(PART_FILE),
            message,
        };
        for k in 0..methods {
            let sparse = m
                .histograms
                .get(k)
                .ok_or_else(|| corrupt("a histogram is missing".into()))?;
            let h = ScoreHistogram::try_from(sparse).map_err(|e| corrupt(e.to_string()))?;
            histograms[k].merge(&h);
            if let Some(r) = m.ranges.get(k).copied().flatten() {
                ranges[k] = Some(ranges[k].map_or(r, |joined| joined.union(r)));
            }
        }
    }
    Ok((histograms, ranges))
}

/// How each method's frames are judged in the pass over the frames.
struct Judging<'a> {
    methods: &'a [Method],
    settings: Settings,
    normalisation: Vec<ScoreRange>,
    /// `None`: confidence > 0; `Some(t)`: score >= t.
    component_threshold: Vec<Option<f32>>,
}

/// What the pass over the frames accumulates.
struct FramePass {
    curves: Vec<MeanCurve>,
    counts: Vec<ComponentCounts>,
    threshold_free_iou_sum: Vec<f64>,
    /// Per frame and method: IoU at each threshold (for the rows).
    frame_ious: Vec<Vec<Vec<f32>>>,
    images: Vec<ImageRow>,
}

/// One pass over every frame of the parts, in dataset order.
fn frame_pass(
    manifests: &[PartManifest],
    parts: &[PathBuf],
    judging: &Judging,
) -> Result<FramePass, FinaliseError> {
    let methods = judging.methods;
    let void = judging.settings.void;
    let mut readers = Vec::new();
    for (m, dir) in manifests.iter().zip(parts) {
        let path = dir.join(FRAMES_FILE);
        let file = File::open(&path).map_err(|source| FinaliseError::Io {
            path: path.clone(),
            source,
        })?;
        readers.push(FrameReader {
            path,
            reader: BufReader::with_capacity(1 << 20, file),
            pending: m.frames.iter().map(|f| f.index).collect(),
        });
    }
    let mut names: Vec<(usize, String)> = manifests
        .iter()
        .flat_map(|m| m.frames.iter().map(|f| (f.index, f.name.clone())))
        .collect();
    names.sort();
    if names.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(FinaliseError::Mismatch("a frame is in two parts".into()));
    }
    let mut pass = FramePass {
        curves: methods.iter().map(|_| MeanCurve::default()).collect(),
        counts: methods.iter().map(|_| ComponentCounts::default()).collect(),
        threshold_free_iou_sum: vec![0.0; methods.len()],
        frame_ious: Vec::with_capacity(names.len()),
        images: Vec::with_capacity(names.len()),
    };
    for (index, name) in names {
        let reader = readers
            .iter_mut()
            .find(|r| r.pending.front() == Some(&index))
            .ok_or_else(|| {
                FinaliseError::Mismatch(format!("frame {index} is out of order in its part"))
            })?;
        reader.pending.pop_front();
        let record = reader.read(index, methods.len())?;
        let mut row = ImageRow {
            index,
            name,
            anomaly_pixels: record.labels.iter().filter(|&&l| l == ANOMALY).count() as u64,
            iou: Vec::with_capacity(methods.len()),
        };
        let mut ious = Vec::with_capacity(methods.len());
        for (k, method) in methods.iter().enumerate() {
            let scores = &record.scores[k];
            let curve = FrameCurve::compute(scores, &record.labels, void, judging.normalisation[k]);
            pass.curves[k].add(&curve);
            let predicted: Vec<bool> = match judging.component_threshold[k] {
                None => scores.iter().map(|&s| s > 0.0).collect(),
                Some(t) => scores.iter().map(|&s| s >= t).collect(),
            };
            // A confidence map's row is its threshold-free IoU; a
            // baseline's is set once its best threshold is known.
            let row_iou = match method.kind {
                ScoreKind::Confidence => {
                    let iou = mask_iou(predicted.iter().copied(), &record.labels, void);
                    pass.threshold_free_iou_sum[k] += iou;
                    iou
                }
                ScoreKind::Scores => f64::NAN,
            };
            row.iou.push(row_iou);
            pass.counts[k].add(&FrameComponents::compute(
                &predicted,
                &record.labels,
                record.height,
                record.width,
                judging.settings.filters,
            ));
            ious.push(curve.iou.iter().map(|&v| v as f32).collect());
        }
        pass.frame_ious.push(ious);
        pass.images.push(row);
    }
    Ok(pass)
}

/// The results of the run whose parts are the folders `parts` (every
/// shard exactly once, in any order).
pub fn finalise(parts: &[PathBuf]) -> Result<RunResults, FinaliseError> {
    let manifests = parts
        .iter()
        .map(|p| read_manifest(p))
        .collect::<Result<Vec<_>, _>>()?;
    let shards = check_parts(&manifests, parts)?;
    let first = &manifests[0];
    let methods = &first.methods;
    let (histograms, ranges) = merge_accumulators(&manifests, parts, methods.len())?;
    let pixel: Vec<Option<PixelMetrics>> = histograms.iter().map(ScoreHistogram::metrics).collect();
    let judging = Judging {
        methods,
        settings: first.settings,
        normalisation: methods
            .iter()
            .zip(&ranges)
            .map(|(m, r)| match m.kind {
                ScoreKind::Confidence => ScoreRange::UNIT,
                ScoreKind::Scores => r.unwrap_or(ScoreRange::UNIT),
            })
            .collect(),
        component_threshold: methods
            .iter()
            .zip(&pixel)
            .map(|(m, p)| match m.kind {
                ScoreKind::Confidence => None,
                ScoreKind::Scores => Some(p.map_or(f32::INFINITY, |p| p.best_f1_threshold)),
            })
            .collect(),
    };
    let mut pass = frame_pass(&manifests, parts, &judging)?;
    let evaluated = pass.images.len();
    let metrics: Vec<ThresholdMetrics> = pass.curves.iter().map(MeanCurve::metrics).collect();
    for (row, ious) in pass.images.iter_mut().zip(&pass.frame_ious) {
        for (k, method) in methods.iter().enumerate() {
            if method.kind == ScoreKind::Scores {
                let step =
                    (metrics[k].best_threshold * (THRESHOLD_STEPS - 1) as f64).round() as usize;
                row.iou[k] = ious[k][step] as f64;
            }
        }
    }
    let method_results = methods
        .iter()
        .enumerate()
        .map(|(k, method)| {
            let range = judging.normalisation[k];
            let (anomaly, inlier) =
                histograms[k].coarse((range.low as f32, range.high as f32), HISTOGRAM_BINS);
            MethodResults {
                method: method.clone(),
                range,
                threshold: metrics[k],
                threshold_free_iou: (method.kind == ScoreKind::Confidence)
                    .then(|| pass.threshold_free_iou_sum[k] / evaluated.max(1) as f64),
                iou_curve: pass.curves[k].iou(),
                f1_curve: pass.curves[k].f1(),
                pixel: pixel[k],
                component_threshold: judging.component_threshold[k],
                components: pass.counts[k].metrics(),
                component_f1_by_tau: TAUS.iter().copied().zip(pass.counts[k].f1()).collect(),
                histogram: ScoreHistogramSummary {
                    low: range.low as f32,
                    high: range.high as f32,
                    anomaly,
                    inlier,
                },
            }
        })
        .collect();
    let mut skipped: Vec<SkippedFrame> = manifests
        .iter()
        .flat_map(|m| m.skipped.iter().cloned())
        .collect();
    skipped.sort_by_key(|s| s.index);
    Ok(RunResults {
        dataset: first.dataset.clone(),
        dataset_frames: first.dataset_frames,
        shards,
        settings: first.settings,
        methods: method_results,
        images: pass.images,
        skipped,
    })
}
