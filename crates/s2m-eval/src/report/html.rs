//! `report.html`: one file, no external resource: the headline table, the
//! charts as inline SVG, and the per-image table, sortable by clicking a
//! column title.

use std::fmt::Write;

use super::{charts, percent, settings_line, table};
use crate::run::finalise::RunResults;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:70em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#eee}#images th{cursor:pointer}";

/// Sorts #images by the clicked column (numbers as numbers), toggling
/// the direction.
const SORT_SCRIPT: &str = "document.querySelectorAll('#images th').forEach((th,col)=>th.addEventListener('click',()=>{\
const body=document.querySelector('#images tbody');const rows=[...body.rows];const up=th.dataset.up!=='1';th.dataset.up=up?'1':'0';\
const key=r=>{const t=r.cells[col].textContent;const n=parseFloat(t);return isNaN(n)?t:n;};\
rows.sort((a,b)=>{const x=key(a),y=key(b);return (x<y?-1:x>y?1:0)*(up?1:-1);});rows.forEach(r=>body.appendChild(r));}));";

pub fn render(results: &RunResults) -> String {
    let mut out = String::new();
    let title = format!("Evaluation: {}", escape(&results.dataset));
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        out,
        "<h1>{title}</h1><p>{}</p>",
        escape(&settings_line(results))
    );
    let (columns, rows) = table(results);
    let _ = write!(out, "<table id=\"summary\"><thead><tr><th>method</th>");
    for c in &columns {
        let _ = write!(out, "<th>{c}</th>");
    }
    let _ = write!(out, "</tr></thead><tbody>");
    for (name, values) in rows {
        let _ = write!(out, "<tr><td>{}</td>", escape(&name));
        for v in values {
            let _ = write!(out, "<td>{v}</td>");
        }
        let _ = write!(out, "</tr>");
    }
    let _ = write!(
        out,
        "</tbody></table><p>All in %. IoU, AuIoU, F1: S2M's metrics over 101 thresholds; AP, FPR95, \
         AUROC: SMIYC's pixel metrics; sIoU, PPV, F1 (components): SMIYC's component metrics.</p>"
    );
    let _ = write!(
        out,
        "<h2>IoU against threshold</h2>{}",
        charts::iou_curves(results)
    );
    let _ = write!(out, "<h2>Score histograms</h2>");
    for m in &results.methods {
        out.push_str(&charts::score_histogram(m));
    }
    let _ = write!(
        out,
        "<h2>Per image (IoU, %)</h2><table id=\"images\"><thead><tr><th>#</th><th>frame</th><th>anomaly px</th>"
    );
    for m in &results.methods {
        let _ = write!(out, "<th>{}</th>", escape(&m.method.name));
    }
    let _ = write!(out, "</tr></thead><tbody>");
    for row in &results.images {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            row.index,
            escape(&row.name),
            row.anomaly_pixels
        );
        for &v in &row.iou {
            let _ = write!(out, "<td>{}</td>", percent(v));
        }
        let _ = write!(out, "</tr>");
    }
    let _ = write!(out, "</tbody></table>");
    if !results.skipped.is_empty() {
        let _ = write!(out, "<h2>Skipped frames</h2><ul>");
        for s in &results.skipped {
            let _ = write!(
                out,
                "<li>{} (#{}): {}</li>",
                escape(&s.name),
                s.index,
                escape(&s.reason)
            );
        }
        let _ = write!(out, "</ul>");
    }
    let _ = write!(out, "<script>{SORT_SCRIPT}</script></body></html>\n");
    out
}
