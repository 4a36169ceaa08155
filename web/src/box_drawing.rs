//! The canvas view: the full-size image, then the translucent mask, the
//! generator's boxes with their scores and the box the user drags, all in
//! the models' pixels and scaled onto the image (`scale` full-size pixels
//! per model pixel), whatever size the canvas is shown at.

use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageBitmap, MouseEvent};

use crate::result_views::rgba_canvas;

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten()?.dyn_into().ok()
}

/// The mouse position in model pixels (the canvas has the full image's
/// size and may be displayed scaled).
pub fn event_to_image(canvas: &HtmlCanvasElement, event: &MouseEvent, scale: f64) -> (f64, f64) {
    let rect = canvas.get_bounding_client_rect();
    let sx = canvas.width() as f64 / rect.width().max(1.0);
    let sy = canvas.height() as f64 / rect.height().max(1.0);
    let x = (event.client_x() as f64 - rect.left()) * sx;
    let y = (event.client_y() as f64 - rect.top()) * sy;
    (
        x.clamp(0.0, canvas.width() as f64) / scale,
        y.clamp(0.0, canvas.height() as f64) / scale,
    )
}

/// An off-screen canvas holding the mask as translucent magenta.
pub fn mask_overlay(mask: &[bool], width: usize, height: usize) -> Option<HtmlCanvasElement> {
    let rgba: Vec<u8> = mask
        .iter()
        .flat_map(|&inside| {
            if inside {
                [255, 0, 200, 130]
            } else {
                [0, 0, 0, 0]
            }
        })
        .collect();
    rgba_canvas(&rgba, width, height)
}

/// Redraws the view: image, then mask, then the generator's boxes
/// (`[x0, y0, x1, y1, score]`), then the box being drawn; everything but
/// the image in model pixels, `scale` full-size pixels each.
pub fn draw(
    canvas: &HtmlCanvasElement,
    image: &ImageBitmap,
    mask: Option<&HtmlCanvasElement>,
    boxes: &[[f32; 5]],
    rect: Option<[f64; 4]>,
    scale: f64,
) {
    if canvas.width() != image.width() || canvas.height() != image.height() {
        canvas.set_width(image.width());
        canvas.set_height(image.height());
    }
    let Some(ctx) = context(canvas) else { return };
    let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    let _ = ctx.draw_image_with_image_bitmap(image, 0.0, 0.0);
    let _ = ctx.scale(scale, scale);
    if let Some(mask) = mask {
        let _ = ctx.draw_image_with_html_canvas_element(mask, 0.0, 0.0);
    }
    let line = (image.width().max(image.height()) as f64 / 400.0).max(1.5) / scale;
    ctx.set_line_width(line);
    ctx.set_font(&format!("{}px sans-serif", (line * 7.0).round()));
    for &[x0, y0, x1, y1, score] in boxes {
        let (x0, y0, x1, y1) = (x0 as f64, y0 as f64, x1 as f64, y1 as f64);
        ctx.set_stroke_style_str("#ffdc00");
        ctx.stroke_rect(x0, y0, x1 - x0, y1 - y0);
        ctx.set_fill_style_str("#ffdc00");
        let _ = ctx.fill_text(&format!("{score:.2}"), x0, (y0 - line).max(line * 7.0));
    }
    if let Some([x0, y0, x1, y1]) = rect {
        ctx.set_stroke_style_str("#00e5ff");
        ctx.set_line_width(3.0 / scale);
        ctx.stroke_rect(x0.min(x1), y0.min(y1), (x1 - x0).abs(), (y1 - y0).abs());
    }
}
