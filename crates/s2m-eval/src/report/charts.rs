//! The report's charts as SVG text, drawn with plotters: mean IoU against
//! the normalised threshold per method (the paper's figures 2 and 10),
//! with S2M's threshold-free IoU as a dashed level line; and each method's
//! judged-pixel score histogram, anomaly against inlier.

use plotters::prelude::*;

use crate::run::finalise::{MethodResults, RunResults};
use crate::threshold_curve::normalised_threshold;

const COLOURS: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Drawn<'a> = Result<(), Box<dyn std::error::Error + 'a>>;

/// The SVG text of a `size` chart drawn by `draw`. A chart that fails to
/// draw (plotters' errors are layout errors here) is left as drawn so far:
/// a report is still written.
fn svg_chart(size: (u32, u32), draw: impl for<'a> FnOnce(&Area<'a>) -> Drawn<'a>) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let _ = draw(&root);
        let _ = root.present();
    }
    svg
}

/// Mean IoU(t) of every method.
pub fn iou_curves(results: &RunResults) -> String {
    svg_chart((640, 400), |root| draw_iou_curves(root, results))
}

fn draw_iou_curves<'a>(root: &Area<'a>, results: &RunResults) -> Drawn<'a> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption("IoU against the normalised threshold", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)?;
    chart
        .configure_mesh()
        .x_desc("threshold")
        .y_desc("mean IoU")
        .draw()?;
    for (k, m) in results.methods.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points = m
            .iou_curve
            .iter()
            .enumerate()
            .map(|(i, &v)| (normalised_threshold(i), v));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(m.method.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        if let Some(free) = m.threshold_free_iou {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, free), (1.0, free)],
                    6,
                    4,
                    colour.stroke_width(1),
                ))?
                .label(format!("{} (no threshold)", m.method.name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(1))
                });
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The share of anomaly and of inlier pixels per score interval of one
/// method.
pub fn score_histogram(method: &MethodResults) -> String {
    svg_chart((640, 300), |root| draw_histogram(root, method))
}

fn draw_histogram<'a>(root: &Area<'a>, method: &MethodResults) -> Drawn<'a> {
    root.fill(&WHITE)?;
    let h = &method.histogram;
    let share = |counts: &[u64]| {
        let total = counts.iter().sum::<u64>().max(1) as f64;
        counts
            .iter()
            .map(|&c| c as f64 / total)
            .collect::<Vec<f64>>()
    };
    let (anomaly, inlier) = (share(&h.anomaly), share(&h.inlier));
    let top = anomaly
        .iter()
        .chain(&inlier)
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let bins = anomaly.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{}: scores of in- and out-of-distribution pixels",
                method.method.name
            ),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..1.0f64, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc(format!("normalised score ({} .. {})", h.low, h.high))
        .y_desc("share of pixels")
        .draw()?;
    let width = 1.0 / bins as f64;
    for (values, colour, label) in [
        (&inlier, COLOURS[1], "in-distribution"),
        (&anomaly, COLOURS[0], "anomaly"),
    ] {
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let x = i as f64 * width;
                Rectangle::new([(x, 0.0), (x + width, v)], colour.mix(0.45).filled())
            }))?
            .label(label)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.mix(0.45).filled())
            });
    }
    chart.configure_series_labels().border_style(BLACK).draw()?;
    Ok(())
}
