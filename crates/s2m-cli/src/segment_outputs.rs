//! The files `s2m segment` writes for one image: `mask.png`,
//! `confidence.png` and `boxes.json` (`s2m_core::result_files`, the web
//! app's exports too), the confidence map as `confidence.npy` (float32),
//! and `overlay.png`: the image, the mask in translucent red, each box
//! outlined with its score.

use std::path::Path;

use anyhow::{Context, Result};
use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage as RgbBuffer};
use s2m_core::pipeline::Segmentation;
use s2m_core::result_files::{boxes_json, confidence_png, mask_png};

use crate::image_input::RgbImage;
use crate::npy_file::write_f32;

const MASK_COLOUR: [f32; 3] = [255.0, 30.0, 30.0];
const MASK_OPACITY: f32 = 0.45;
const BOX_COLOUR: [u8; 3] = [255, 220, 0];
/// Image width per pixel of font scale of the score labels (8x8 glyphs
/// at scale 1 below 1280 px, 2 up to 1920, ...).
const LABEL_SCALE_WIDTH: usize = 640;

/// Writes every output of `result` for `image` into `folder`.
pub fn write_all(
    folder: &Path,
    image: &RgbImage,
    result: &Segmentation,
    names: (&str, &str),
) -> Result<()> {
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let save = |name: &str, write: &dyn Fn(&Path) -> Result<()>| {
        let path = folder.join(name);
        write(&path).with_context(|| format!("cannot write {}", path.display()))
    };
    save("mask.png", &|p| Ok(std::fs::write(p, mask_png(result)?)?))?;
    save("confidence.png", &|p| {
        Ok(std::fs::write(p, confidence_png(result)?)?)
    })?;
    save("confidence.npy", &|p| {
        write_f32(p, result.height, result.width, &result.confidence)
    })?;
    save("boxes.json", &|p| {
        Ok(std::fs::write(p, boxes_json(result, names.0, names.1))?)
    })?;
    save("overlay.png", &|p| Ok(overlay(image, result)?.save(p)?))
}

/// The image with the mask blended in and the boxes drawn with scores.
pub fn overlay(image: &RgbImage, result: &Segmentation) -> Result<RgbBuffer> {
    let mut pixels = image.pixels.clone();
    for (i, _) in result.mask().iter().enumerate().filter(|(_, m)| **m) {
        for c in 0..3 {
            let v = pixels[i * 3 + c] as f32;
            pixels[i * 3 + c] = (v + (MASK_COLOUR[c] - v) * MASK_OPACITY).round() as u8;
        }
    }
    let mut canvas = RgbBuffer::from_raw(image.width as u32, image.height as u32, pixels)
        .context("overlay size")?;
    for d in &result.detections {
        draw_box(&mut canvas, d.bbox);
        let scale = (image.width / LABEL_SCALE_WIDTH).max(1);
        draw_label(&mut canvas, d.bbox, &format!("{:.2}", d.score), scale);
    }
    Ok(canvas)
}

fn put(canvas: &mut RgbBuffer, x: i64, y: i64, colour: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < canvas.width() && (y as u32) < canvas.height() {
        canvas.put_pixel(x as u32, y as u32, Rgb(colour));
    }
}

/// A 2-pixel outline of `bbox` (x0, y0, x1, y1).
fn draw_box(canvas: &mut RgbBuffer, bbox: [f32; 4]) {
    let [x0, y0, x1, y1] = bbox.map(|v| v.round() as i64);
    for t in 0..2 {
        for x in x0..=x1 {
            put(canvas, x, y0 + t, BOX_COLOUR);
            put(canvas, x, y1 - t, BOX_COLOUR);
        }
        for y in y0..=y1 {
            put(canvas, x0 + t, y, BOX_COLOUR);
            put(canvas, x1 - t, y, BOX_COLOUR);
        }
    }
}

/// `text` in black on the box colour, above the box's top-left corner
/// (inside it when the box touches the top of the image).
fn draw_label(canvas: &mut RgbBuffer, bbox: [f32; 4], text: &str, scale: usize) {
    let glyph = 8 * scale as i64;
    let x0 = bbox[0].round() as i64;
    let top = bbox[1].round() as i64 - glyph - 2;
    let y0 = if top >= 0 {
        top
    } else {
        bbox[1].round() as i64 + 2
    };
    let width = glyph * text.chars().count() as i64 + 2;
    for y in y0 - 1..y0 + glyph + 1 {
        for x in x0..x0 + width {
            put(canvas, x, y, BOX_COLOUR);
        }
    }
    for (k, ch) in text.chars().enumerate() {
        let Some(rows) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for sy in 0..scale {
                    for sx in 0..scale {
                        let x = x0 + 1 + k as i64 * glyph + (col * scale + sx) as i64;
                        let y = y0 + (row * scale + sy) as i64;
                        put(canvas, x, y, [0, 0, 0]);
                    }
                }
            }
        }
    }
}
