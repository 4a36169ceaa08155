//! The ways the page shows a result (issue #6): S2M's mask, the anomaly
//! score heatmap, the confidence map (the lowest covering box score), and
//! plain thresholding of the score map at the slider's threshold, which
//! S2M does without; with a ground-truth label image, the IoU of each and
//! the IoU-vs-threshold curve of plain thresholding (the paper's figure 2,
//! `s2m_core::mask_metrics`). Layers are drawn in model pixels.

use s2m_eval::ground_truth::VoidPixels;
use s2m_eval::threshold_curve::mask_iou;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

/// What the view shows over the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Mask,
    Heatmap,
    Confidence,
    Threshold,
}

impl View {
    pub const ALL: [View; 4] = [View::Mask, View::Heatmap, View::Confidence, View::Threshold];

    /// The value of its `<option>`.
    pub fn key(self) -> &'static str {
        match self {
            View::Mask => "mask",
            View::Heatmap => "heatmap",
            View::Confidence => "confidence",
            View::Threshold => "threshold",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            View::Mask => "S2M mask and boxes",
            View::Heatmap => "anomaly score heatmap",
            View::Confidence => "confidence map",
            View::Threshold => "plain thresholding of the score map",
        }
    }

    pub fn from_key(key: &str) -> View {
        View::ALL
            .into_iter()
            .find(|v| v.key() == key)
            .unwrap_or(View::Mask)
    }
}

/// One S2M result's per-pixel layers at the models' size, row-major.
pub struct ResultLayers {
    pub width: usize,
    pub height: usize,
    /// The score map the generator read, resampled to the models' size.
    pub scores: Vec<f32>,
    /// Lowest covering box score, 0 where no mask covers.
    pub confidence: Vec<f32>,
    /// The lowest and highest finite score: the slider's range.
    pub score_range: (f32, f32),
}

impl ResultLayers {
    pub fn new(width: usize, height: usize, scores: Vec<f32>, confidence: Vec<f32>) -> Self {
        let score_range = scores
            .iter()
            .filter(|s| s.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &s| {
                (l.min(s), h.max(s))
            });
        Self {
            width,
            height,
            scores,
            confidence,
            score_range,
        }
    }

    /// The threshold at slider position `position` (0..=1) of the range.
    pub fn threshold_at(&self, position: f32) -> f32 {
        let (low, high) = self.score_range;
        if low > high {
            return 0.0;
        }
        low + (high - low) * position.clamp(0.0, 1.0)
    }

    /// RGBA of `view`, `threshold` for [`View::Threshold`]; none for
    /// [`View::Mask`], which the page draws from the mask it keeps (that
    /// of a drawn box, too).
    pub fn rgba(&self, view: View, threshold: f32) -> Option<Vec<u8>> {
        let (low, high) = self.score_range;
        let span = (high - low).max(f32::MIN_POSITIVE);
        let rgba = match view {
            View::Mask => return None,
            View::Heatmap => self
                .scores
                .iter()
                .flat_map(|&s| {
                    let [r, g, b] = heat(((s - low) / span).clamp(0.0, 1.0));
                    [r, g, b, 170]
                })
                .collect(),
            View::Confidence => self
                .confidence
                .iter()
                .flat_map(|&c| {
                    if c > 0.0 {
                        let [r, g, b] = heat(c.clamp(0.0, 1.0));
                        [r, g, b, 200]
                    } else {
                        [0, 0, 0, 0]
                    }
                })
                .collect(),
            View::Threshold => self
                .scores
                .iter()
                .flat_map(|&s| {
                    if s > threshold {
                        [0, 140, 255, 140]
                    } else {
                        [0, 0, 0, 0]
                    }
                })
                .collect(),
        };
        Some(rgba)
    }

    /// IoU with `truth` (0 / 1 labels) of thresholding at `threshold`
    /// (score > threshold) and of S2M's mask (confidence > 0), with
    /// `s2m eval`'s metric code.
    pub fn ious(&self, truth: &[u8], threshold: f32) -> (f32, f32) {
        let plain = self.scores.iter().map(|&s| s > threshold);
        let s2m = self.confidence.iter().map(|&c| c > 0.0);
        (
            mask_iou(plain, truth, VoidPixels::Excluded) as f32,
            mask_iou(s2m, truth, VoidPixels::Excluded) as f32,
        )
    }
}

/// A dark-blue, red, yellow, white ramp for `v` in 0..=1.
fn heat(v: f32) -> [u8; 3] {
    let channel = |start: f32| ((v - start) * 3.0).clamp(0.0, 1.0);
    let r = channel(0.0);
    let g = channel(1.0 / 3.0);
    let b = channel(2.0 / 3.0).max(0.35 * (1.0 - r));
    [r, g, b].map(|c| (c * 255.0).round() as u8)
}

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten()?.dyn_into().ok()
}

/// An off-screen canvas holding `rgba` (`width` x `height`).
pub fn rgba_canvas(rgba: &[u8], width: usize, height: usize) -> Option<HtmlCanvasElement> {
    let document = web_sys::window()?.document()?;
    let canvas: HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let data =
        ImageData::new_with_u8_clamped_array_and_sh(Clamped(rgba), width as u32, height as u32)
            .ok()?;
    context(&canvas)?.put_image_data(&data, 0.0, 0.0).ok()?;
    Some(canvas)
}

/// Plots IoU against threshold (`curve`: (threshold, IoU) pairs), S2M's
/// IoU as a horizontal line, and the slider's threshold as a vertical one.
pub fn draw_curve(canvas: &HtmlCanvasElement, curve: &[(f32, f32)], s2m_iou: f32, threshold: f32) {
    let Some(ctx) = context(canvas) else { return };
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    let (left, bottom, top, right) = (40.0, h - 24.0, 10.0, w - 10.0);
    ctx.set_fill_style_str("#1c2430");
    ctx.fill_rect(0.0, 0.0, w, h);
    let (Some(first), Some(last)) = (curve.first(), curve.last()) else {
        return;
    };
    let span = ((last.0 - first.0) as f64).max(f64::MIN_POSITIVE);
    let x = |t: f32| left + (t - first.0) as f64 / span * (right - left);
    let y = |iou: f32| bottom - iou as f64 * (bottom - top);
    ctx.set_stroke_style_str("#aab6c2");
    ctx.set_line_width(1.0);
    ctx.stroke_rect(left, top, right - left, bottom - top);
    ctx.set_fill_style_str("#aab6c2");
    ctx.set_font("11px sans-serif");
    let _ = ctx.fill_text("IoU 1", 4.0, top + 8.0);
    let _ = ctx.fill_text("0", 24.0, bottom);
    let _ = ctx.fill_text(&format!("{:.2}", first.0), left, h - 8.0);
    let _ = ctx.fill_text(&format!("{:.2}", last.0), right - 30.0, h - 8.0);
    let _ = ctx.fill_text("threshold", (left + right) / 2.0 - 24.0, h - 8.0);
    ctx.set_stroke_style_str("#00a0ff");
    ctx.set_line_width(2.0);
    ctx.begin_path();
    for (i, &(t, iou)) in curve.iter().enumerate() {
        if i == 0 {
            ctx.move_to(x(t), y(iou));
        } else {
            ctx.line_to(x(t), y(iou));
        }
    }
    ctx.stroke();
    ctx.set_stroke_style_str("#ff00c8");
    ctx.begin_path();
    ctx.move_to(left, y(s2m_iou));
    ctx.line_to(right, y(s2m_iou));
    ctx.stroke();
    ctx.set_fill_style_str("#ff00c8");
    let _ = ctx.fill_text(&format!("S2M {s2m_iou:.3}"), right - 70.0, y(s2m_iou) - 4.0);
    ctx.set_stroke_style_str("#ffdc00");
    ctx.set_line_width(1.0);
    ctx.begin_path();
    ctx.move_to(x(threshold), top);
    ctx.line_to(x(threshold), bottom);
    ctx.stroke();
}
