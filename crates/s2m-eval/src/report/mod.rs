//! A run's results as `results.json` (every number), `report.md` and a
//! self-contained `report.html` (the table laid out as the paper's
//! Table 1, sortable per-image rows, the IoU-vs-threshold curves of the
//! paper's figures 2 and 10 and the score histograms, as inline SVG).

pub mod charts;
pub mod html;
pub mod markdown;

use std::path::{Path, PathBuf};

use crate::run::finalise::{MethodResults, RunResults};

/// Writes the three reports into `dir`; returns their paths.
pub fn write_reports(results: &RunResults, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    let files = [
        ("results.json", json + "\n"),
        ("report.md", markdown::render(results)),
        ("report.html", html::render(results)),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

/// A fraction as the paper prints it: a percentage with two decimals.
pub fn percent(value: f64) -> String {
    if value.is_finite() {
        format!("{:.2}", value * 100.0)
    } else {
        "-".into()
    }
}

/// The headline table: (column title, value per method).
pub fn table(results: &RunResults) -> (Vec<&'static str>, Vec<(String, Vec<String>)>) {
    let columns = vec![
        "IoU",
        "AuIoU",
        "F1",
        "IoU (no threshold)",
        "AP",
        "FPR95",
        "AUROC",
        "sIoU",
        "PPV",
        "F1 (components)",
    ];
    let rows = results
        .methods
        .iter()
        .map(|m: &MethodResults| {
            let pixel = |f: fn(&crate::score_histogram::PixelMetrics) -> f64| {
                m.pixel.as_ref().map_or("-".into(), |p| percent(f(p)))
            };
            (
                m.method.name.clone(),
                vec![
                    percent(m.threshold.best_iou),
                    percent(m.threshold.au_iou),
                    percent(m.threshold.mean_f1),
                    m.threshold_free_iou.map_or("-".into(), percent),
                    pixel(|p| p.average_precision),
                    pixel(|p| p.fpr_at_95_tpr),
                    pixel(|p| p.auroc),
                    percent(m.components.mean_siou),
                    percent(m.components.mean_ppv),
                    percent(m.components.mean_f1),
                ],
            )
        })
        .collect();
    (columns, rows)
}

/// What the settings mean, in a sentence for the reports.
pub fn settings_line(results: &RunResults) -> String {
    let void = match results.settings.void {
        crate::ground_truth::VoidPixels::Excluded => "void pixels excluded",
        crate::ground_truth::VoidPixels::CountedAsInlier => {
            "void pixels counted as in-distribution (S2M's reference code)"
        }
    };
    format!(
        "{} of {} frames evaluated ({} skipped), {} shard(s); {void}; components: predictions under {} px dropped, ground truth under {} px void.",
        results.images.len(),
        results.dataset_frames,
        results.skipped.len(),
        results.shards,
        results.settings.filters.min_predicted,
        results.settings.filters.min_ground_truth,
    )
}
