//! Decoding a user's image file with the browser's own decoders. Frames
//! larger than [`MODEL_MAX_SIDE`] are downscaled for the models
//! (`s2m_core::frame_size`), while the view keeps the full frame and draws
//! the results scaled onto it.

use s2m_core::frame_size::fit_longest_side;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageBitmap};

/// Largest accepted side, as in the CLI.
pub const MAX_SIDE: u32 = 16_384;

/// Longest side of the image the models get.
pub const MODEL_MAX_SIDE: u32 = 2048;

/// A decoded image: the full-size bitmap for drawing and the RGB pixels
/// of its (possibly downscaled) copy for the models.
pub struct DecodedImage {
    pub bitmap: ImageBitmap,
    pub width: usize,
    pub height: usize,
    pub model_width: usize,
    pub model_height: usize,
    /// Row-major RGB of the models' copy, 3 bytes per pixel (handed to the
    /// SAM encoder, which keeps what it needs).
    pub rgb: Vec<u8>,
}

impl DecodedImage {
    /// Full-size pixels per model pixel (1 for frames that fit).
    pub fn scale(&self) -> f64 {
        self.width as f64 / self.model_width as f64
    }
}

/// Decodes an image file.
pub async fn decode(file: &web_sys::File) -> Result<DecodedImage, String> {
    let name = file.name();
    let window = web_sys::window().ok_or("no window")?;
    let promise = window
        .create_image_bitmap_with_blob(file)
        .map_err(|_| format!("{name}: cannot be decoded"))?;
    let bitmap: ImageBitmap = JsFuture::from(promise)
        .await
        .map_err(|_| format!("{name} is not a readable image (corrupt or unsupported format)"))?
        .dyn_into()
        .map_err(|_| format!("{name}: not an image"))?;
    from_bitmap(bitmap, &name)
}

/// The image of a decoded bitmap (an image file's or a video frame's),
/// `name` labelling messages.
pub fn from_bitmap(bitmap: ImageBitmap, name: &str) -> Result<DecodedImage, String> {
    let window = web_sys::window().ok_or("no window")?;
    let (width, height) = (bitmap.width(), bitmap.height());
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "{name} is {width}x{height}; sides from 1 to {MAX_SIDE} pixels are accepted"
        ));
    }
    let document = window.document().ok_or("no document")?;
    let canvas: HtmlCanvasElement = document
        .create_element("canvas")
        .map_err(|_| "cannot create a canvas")?
        .dyn_into()
        .map_err(|_| "not a canvas")?;
    let (model_width, model_height) = fit_longest_side(width, height, MODEL_MAX_SIDE);
    canvas.set_width(model_width);
    canvas.set_height(model_height);
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .ok_or("no 2d context")?
        .dyn_into()
        .map_err(|_| "not a 2d context")?;
    context
        .draw_image_with_image_bitmap_and_dw_and_dh(
            &bitmap,
            0.0,
            0.0,
            model_width as f64,
            model_height as f64,
        )
        .map_err(|_| "cannot draw the image")?;
    let rgba = context
        .get_image_data(0.0, 0.0, model_width as f64, model_height as f64)
        .map_err(|_| "cannot read the image pixels")?
        .data();
    let rgb = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Ok(DecodedImage {
        bitmap,
        width: width as usize,
        height: height as usize,
        model_width: model_width as usize,
        model_height: model_height as usize,
        rgb,
    })
}
