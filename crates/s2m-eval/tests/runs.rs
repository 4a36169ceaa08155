//! Runs over a dataset: one part or three shards give the same results
//! bit for bit; the results agree with the metrics computed directly;
//! reports are written; bad parts and frames are refused with a reason.

use std::path::PathBuf;

use s2m_eval::components::ComponentFilters;
use s2m_eval::ground_truth::{FrameLabels, VoidPixels};
use s2m_eval::report::write_reports;
use s2m_eval::run::finalise::finalise;
use s2m_eval::run::part::PartWriter;
use s2m_eval::run::{Method, ScoreKind, Settings};
use s2m_eval::score_histogram::ScoreHistogram;
use s2m_eval::threshold_curve::{FrameCurve, MeanCurve, ScoreRange};

const SETTINGS: Settings = Settings {
    void: VoidPixels::Excluded,
    filters: ComponentFilters {
        min_predicted: 4,
        min_ground_truth: 2,
    },
};

fn methods() -> Vec<Method> {
    vec![
        Method {
            name: "s2m".into(),
            kind: ScoreKind::Confidence,
        },
        Method {
            name: "threshold:energy".into(),
            kind: ScoreKind::Scores,
        },
    ]
}

/// Frame `k`: a square object on a 24 x 32 frame with a void strip; a
/// confidence map covering most of it and noisy energy-like scores.
fn frame(k: usize) -> (FrameLabels, Vec<Vec<f32>>) {
    let (h, w) = (24, 32);
    let mut labels = vec![0u8; h * w];
    let mut confidence = vec![0f32; h * w];
    let mut energy = vec![0f32; h * w];
    let (y0, x0) = (2 + k % 7, 3 + (k * 5) % 17);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let inside = (y0..y0 + 8).contains(&y) && (x0..x0 + 9).contains(&x);
            if inside {
                labels[i] = 1;
            }
            if y == h - 1 {
                labels[i] = 255;
            }
            if inside && x > x0 || (k % 3 == 0 && y < 3 && x < 6) {
                confidence[i] = 0.8 + 0.01 * (k % 10) as f32;
            }
            let noise = (((i * 7919 + k * 104_729) % 1000) as f32 / 1000.0 - 0.5) * 4.0;
            energy[i] = -10.0 - k as f32 * 0.1 + noise + if inside { 3.0 } else { 0.0 };
        }
    }
    (
        FrameLabels::new(h, w, labels).unwrap(),
        vec![confidence, energy],
    )
}

const FRAMES: usize = 11;

fn write_parts(dir: &std::path::Path, shards: usize) -> Vec<PathBuf> {
    (0..shards)
        .map(|s| {
            let mut part = PartWriter::create(
                &dir.join(format!("part-{s}")),
                "synthetic".into(),
                FRAMES,
                (s, shards),
                SETTINGS,
                methods(),
            )
            .unwrap();
            for k in (0..FRAMES).filter(|k| k % shards == s) {
                if k == 5 {
                    part.skip_frame(k, "frame-5", "unreadable".into());
                    continue;
                }
                let (labels, scores) = frame(k);
                part.add_frame(k, &format!("frame-{k}"), &labels, &scores)
                    .unwrap();
            }
            part.finish().unwrap()
        })
        .collect()
}

#[test]
fn three_shards_merge_to_the_single_run_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let single = finalise(&write_parts(&dir.path().join("single"), 1)).unwrap();
    let mut parts = write_parts(&dir.path().join("sharded"), 3);
    parts.reverse(); // any order
    let merged = finalise(&parts).unwrap();
    let json = |r| serde_json::to_string(r).unwrap();
    let mut single_json = single.clone();
    single_json.shards = 3;
    assert_eq!(json(&single_json), json(&merged));
    assert_eq!(merged.images.len(), FRAMES - 1);
    assert_eq!(merged.skipped.len(), 1);
    assert_eq!(merged.skipped[0].reason, "unreadable");
}

#[test]
fn results_equal_the_metrics_computed_directly() {
    let dir = tempfile::tempdir().unwrap();
    let results = finalise(&write_parts(dir.path(), 1)).unwrap();
    let frames: Vec<_> = (0..FRAMES).filter(|&k| k != 5).map(frame).collect();
    let mut range: Option<ScoreRange> = None;
    let mut histogram = ScoreHistogram::default();
    for (labels, scores) in &frames {
        let r = ScoreRange::of(&scores[1]).unwrap();
        range = Some(range.map_or(r, |x| x.union(r)));
        histogram.add(&scores[1], labels.labels(), VoidPixels::Excluded);
    }
    let mut mean = MeanCurve::default();
    for (labels, scores) in &frames {
        mean.add(&FrameCurve::compute(
            &scores[1],
            labels.labels(),
            VoidPixels::Excluded,
            range.unwrap(),
        ));
    }
    let energy = &results.methods[1];
    assert_eq!(energy.range, range.unwrap());
    assert_eq!(energy.threshold, mean.metrics());
    assert_eq!(energy.pixel, histogram.metrics());
    assert!(energy.pixel.unwrap().average_precision > 0.5);
    let s2m = &results.methods[0];
    assert_eq!(s2m.range, ScoreRange::UNIT);
    let free = s2m.threshold_free_iou.unwrap();
    assert!(free > 0.5 && free < 1.0, "{free}");
    // The confidence map's threshold-free IoU is IoU(t = 0).
    assert!((free - s2m.iou_curve[0]).abs() < 1e-12);
    assert!(s2m.components.ground_truth_components as usize == frames.len());
}

#[test]
fn reports_hold_the_table_curves_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let results = finalise(&write_parts(&dir.path().join("run"), 1)).unwrap();
    let written = write_reports(&results, &dir.path().join("report")).unwrap();
    assert_eq!(written.len(), 3);
    let md = std::fs::read_to_string(dir.path().join("report/report.md")).unwrap();
    assert!(md.contains("| method | IoU | AuIoU | F1 |"), "{md}");
    assert!(md.contains("| threshold:energy |"));
    assert!(md.contains("frame-5 (#5): unreadable"));
    let html = std::fs::read_to_string(dir.path().join("report/report.html")).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        3,
        "one curve chart and two histograms"
    );
    assert!(html.contains("id=\"images\"") && html.contains("<script>"));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        json["methods"][1]["iou_curve"].as_array().unwrap().len(),
        101
    );
}

#[test]
fn parts_of_another_run_or_missing_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let parts = write_parts(&dir.path().join("a"), 3);
    let message = finalise(&parts[..2]).unwrap_err().to_string();
    assert!(message.contains("missing shards 3/3"), "{message}");
    let message = finalise(&[parts[0].clone(), parts[0].clone()])
        .unwrap_err()
        .to_string();
    assert!(message.contains("given twice"), "{message}");
    let other = write_parts(&dir.path().join("b"), 1);
    let message = finalise(&[parts[0].clone(), other[0].clone()])
        .unwrap_err()
        .to_string();
    assert!(message.contains("shard count"), "{message}");
    // A truncated frame file.
    let frames = parts[1].join("frames.bin");
    let bytes = std::fs::read(&frames).unwrap();
    std::fs::write(&frames, &bytes[..bytes.len() - 10]).unwrap();
    let message = finalise(&parts).unwrap_err().to_string();
    assert!(
        message.contains("frames.bin") && message.contains("truncated")
            || message.contains("method 1"),
        "{message}"
    );
}

#[test]
fn frames_whose_scores_do_not_fit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut part =
        PartWriter::create(dir.path(), "x".into(), 1, (0, 1), SETTINGS, methods()).unwrap();
    let (labels, mut scores) = frame(0);
    scores[1].pop();
    assert!(
        part.add_frame(0, "a", &labels, &scores)
            .unwrap_err()
            .to_string()
            .contains("767 scores for a 24x32")
    );
    let (_, mut scores) = frame(0);
    scores[0][3] = f32::NAN;
    assert!(
        part.add_frame(0, "a", &labels, &scores)
            .unwrap_err()
            .to_string()
            .contains("not finite")
    );
    assert!(part.add_frame(0, "a", &labels, &scores[..1]).is_err());
}
