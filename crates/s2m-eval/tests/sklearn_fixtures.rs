//! s2m-eval's metrics against independent references: scikit-learn's
//! `average_precision_score`, `roc_auc_score` and `roc_curve`, NumPy
//! re-implementations of S2M's `calculate_miou` and of SMIYC's component
//! metrics with scikit-image's connected components, computed by
//! `tests/reference/eval_metrics_reference.py` into
//! `tests/fixtures/eval_metrics.json` on random and adversarial cases
//! (ties, energy-like negative scores, frames all anomaly, no anomaly,
//! a sparse confidence map).
//!
//! Tolerances: pixel metrics come from a binned histogram (bins 4.9e-4 of
//! a score wide); the issue bounds their error at 1e-3. Threshold and
//! component metrics are exact counts: 1e-12.

use s2m_eval::components::{ComponentCounts, ComponentFilters, FrameComponents};
use s2m_eval::ground_truth::VoidPixels;
use s2m_eval::score_histogram::ScoreHistogram;
use s2m_eval::threshold_curve::{FrameCurve, MeanCurve, ScoreRange};
use serde_json::Value;

struct Frame {
    height: usize,
    width: usize,
    scores: Vec<f32>,
    labels: Vec<u8>,
}

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/eval_metrics.json"
    );
    let text = std::fs::read_to_string(path).expect("the fixture is committed");
    let json: Value = serde_json::from_str(&text).expect("fixture JSON");
    json["cases"].as_array().expect("cases").clone()
}

fn frames(case: &Value) -> Vec<Frame> {
    case["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Frame {
            height: f["height"].as_u64().unwrap() as usize,
            width: f["width"].as_u64().unwrap() as usize,
            scores: f["scores"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect(),
            labels: f["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u8)
                .collect(),
        })
        .collect()
}

fn close(name: &str, got: f64, expected: &Value, tolerance: f64) {
    let expected = expected
        .as_f64()
        .unwrap_or_else(|| panic!("{name}: no reference"));
    assert!(
        (got - expected).abs() <= tolerance,
        "{name}: got {got}, scikit-learn/NumPy {expected} (tolerance {tolerance})"
    );
}

#[test]
fn pixel_metrics_match_scikit_learn() {
    let mut worst: f64 = 0.0;
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let mut histogram = ScoreHistogram::default();
        for f in frames(&case) {
            histogram.add(&f.scores, &f.labels, VoidPixels::Excluded);
        }
        let reference = &case["pixel"];
        match histogram.metrics() {
            None => assert!(reference.is_null(), "{name}: metrics expected"),
            Some(m) => {
                for (metric, got) in [
                    ("average_precision", m.average_precision),
                    ("auroc", m.auroc),
                    ("fpr_at_95_tpr", m.fpr_at_95_tpr),
                ] {
                    close(&format!("{name} {metric}"), got, &reference[metric], 1e-3);
                    worst = worst.max((got - reference[metric].as_f64().unwrap()).abs());
                }
            }
        }
    }
    eprintln!("largest pixel-metric error against scikit-learn: {worst:.2e}");
}

#[test]
fn threshold_metrics_match_s2m_reference_code() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let range = ScoreRange {
            low: case["range"][0].as_f64().unwrap(),
            high: case["range"][1].as_f64().unwrap(),
        };
        for (void, key) in [
            (VoidPixels::Excluded, "threshold_void_excluded"),
            (VoidPixels::CountedAsInlier, "threshold_void_counted"),
        ] {
            let mut mean = MeanCurve::default();
            for f in frames(&case) {
                mean.add(&FrameCurve::compute(&f.scores, &f.labels, void, range));
            }
            let reference = &case[key];
            let m = mean.metrics();
            close(
                &format!("{name} {key} best IoU"),
                m.best_iou,
                &reference["best_iou"],
                1e-12,
            );
            close(
                &format!("{name} {key} threshold"),
                m.best_threshold,
                &reference["best_threshold"],
                1e-12,
            );
            close(
                &format!("{name} {key} AuIoU"),
                m.au_iou,
                &reference["au_iou"],
                1e-12,
            );
            close(
                &format!("{name} {key} mean F1"),
                m.mean_f1,
                &reference["mean_f1"],
                1e-12,
            );
            for (i, got) in mean.iou().into_iter().enumerate() {
                close(
                    &format!("{name} {key} IoU({i})"),
                    got,
                    &reference["iou_curve"][i],
                    1e-12,
                );
            }
        }
    }
}

#[test]
fn component_metrics_match_the_smiyc_reference() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let threshold = case["component_threshold"].as_f64().unwrap() as f32;
        for (filters, key) in [
            (
                ComponentFilters {
                    min_predicted: 20,
                    min_ground_truth: 8,
                },
                "anomaly_track_scaled",
            ),
            (
                ComponentFilters {
                    min_predicted: 0,
                    min_ground_truth: 0,
                },
                "unfiltered",
            ),
        ] {
            let mut counts = ComponentCounts::default();
            for f in frames(&case) {
                let predicted: Vec<bool> = f.scores.iter().map(|&s| s >= threshold).collect();
                counts.add(&FrameComponents::compute(
                    &predicted, &f.labels, f.height, f.width, filters,
                ));
            }
            let m = counts.metrics();
            let reference = &case["components"][key];
            let label = format!("{name} {key}");
            close(
                &format!("{label} sIoU"),
                m.mean_siou,
                &reference["mean_siou"],
                1e-12,
            );
            close(
                &format!("{label} PPV"),
                m.mean_ppv,
                &reference["mean_ppv"],
                1e-12,
            );
            close(
                &format!("{label} mean F1"),
                m.mean_f1,
                &reference["mean_f1"],
                1e-12,
            );
            assert_eq!(
                m.ground_truth_components,
                reference["ground_truth_components"].as_u64().unwrap(),
                "{label}"
            );
            assert_eq!(
                m.predicted_components,
                reference["predicted_components"].as_u64().unwrap(),
                "{label}"
            );
        }
    }
}
