//! `report.md`: the headline table, per-image rows and skipped frames.

use std::fmt::Write;

use super::{settings_line, table};
use crate::run::finalise::RunResults;

pub fn render(results: &RunResults) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Evaluation: {}\n", results.dataset);
    let _ = writeln!(out, "{}\n", settings_line(results));
    let (columns, rows) = table(results);
    let _ = writeln!(out, "| method | {} |", columns.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(columns.len()));
    for (name, values) in rows {
        let _ = writeln!(out, "| {name} | {} |", values.join(" | "));
    }
    let _ = writeln!(
        out,
        "\nIoU: best over the 101 thresholds of the mean per-image IoU; AuIoU: its area; \
         F1: its mean per-image F1 over the thresholds (S2M's metrics). AP, FPR95, AUROC: \
         SMIYC's pixel metrics. sIoU, PPV, F1 (components): SMIYC's component metrics. All in %.\n"
    );
    for m in &results.methods {
        let threshold = match m.component_threshold {
            None => "confidence > 0".to_string(),
            Some(t) => format!("score >= {t} (best pixel F1)"),
        };
        let _ = writeln!(
            out,
            "- `{}`: scores {} .. {} normalised to 0 .. 1; best IoU at threshold {:.2}; components at {threshold}.",
            m.method.name, m.range.low, m.range.high, m.threshold.best_threshold
        );
    }
    let _ = writeln!(out, "\n## Per image (IoU, %)\n");
    let names: Vec<&str> = results
        .methods
        .iter()
        .map(|m| m.method.name.as_str())
        .collect();
    let _ = writeln!(out, "| # | frame | anomaly px | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(names.len()));
    for row in &results.images {
        let ious: Vec<String> = row.iou.iter().map(|&v| super::percent(v)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.index,
            row.name,
            row.anomaly_pixels,
            ious.join(" | ")
        );
    }
    if !results.skipped.is_empty() {
        let _ = writeln!(out, "\n## Skipped frames\n");
        for s in &results.skipped {
            let _ = writeln!(out, "- {} (#{}): {}", s.name, s.index, s.reason);
        }
    }
    out
}
