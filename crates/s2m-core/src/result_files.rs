//! The files a segmentation is saved as, as bytes, so that `s2m segment`
//! and the web app's exports write the same formats (issues #5, #6):
//! `mask.png` (8-bit grey, 255 inside, 0 outside), `confidence.png`
//! (16-bit grey, the lowest covering box score x 65535) and `boxes.json`
//! (`{"image", "score_map", "height", "width", "detections": [{"box":
//! [x0, y0, x1, y1], "score", "class"}]}`, boxes in image pixels, best
//! first; `s2m detect` writes the same without `image`).

use std::io::Cursor;

use image::{GrayImage, ImageBuffer, ImageFormat, Luma};
use serde::Serialize;

use crate::detector::Detection;
use crate::pipeline::Segmentation;

#[derive(Debug, thiserror::Error)]
pub enum ResultFileError {
    #[error("the result's {values} values do not fill {width}x{height} pixels")]
    Size {
        values: usize,
        width: usize,
        height: usize,
    },
    #[error("cannot encode {file}: {message}")]
    Encode { file: &'static str, message: String },
}

/// `boxes.json`.
#[derive(Serialize)]
struct BoxesJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    score_map: &'a str,
    height: usize,
    width: usize,
    detections: Vec<BoxJson>,
}

#[derive(Serialize)]
struct BoxJson {
    /// x0, y0, x1, y1 in image pixels.
    #[serde(rename = "box")]
    bbox: [f32; 4],
    score: f32,
    class: usize,
}

/// `mask.png`: 255 where any box's mask covers the pixel.
pub fn mask_png(result: &Segmentation) -> Result<Vec<u8>, ResultFileError> {
    let levels = result
        .mask()
        .iter()
        .map(|&m| if m { 255 } else { 0 })
        .collect();
    let image = GrayImage::from_raw(result.width as u32, result.height as u32, levels)
        .ok_or_else(|| size_error(result))?;
    encode_png(&image, "mask.png")
}

/// `confidence.png`: the confidence map x 65535, 16-bit.
pub fn confidence_png(result: &Segmentation) -> Result<Vec<u8>, ResultFileError> {
    let levels = result
        .confidence
        .iter()
        .map(|&c| (c.clamp(0.0, 1.0) * 65535.0).round() as u16)
        .collect();
    let image: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_raw(result.width as u32, result.height as u32, levels)
            .ok_or_else(|| size_error(result))?;
    encode_png(&image, "confidence.png")
}

/// `boxes.json` of `result`, naming the image and score map it came from.
pub fn boxes_json(result: &Segmentation, image: &str, score_map: &str) -> String {
    detections_json(
        Some(image),
        score_map,
        (result.height, result.width),
        &result.detections,
    )
}

/// The JSON listing `detections` on a score map of `(height, width)`
/// pixels (and of its image, if named), in the order given.
pub fn detections_json(
    image: Option<&str>,
    score_map: &str,
    (height, width): (usize, usize),
    detections: &[Detection],
) -> String {
    let json = BoxesJson {
        image,
        score_map,
        height,
        width,
        detections: detections
            .iter()
            .map(|d| BoxJson {
                bbox: d.bbox,
                score: d.score,
                class: d.class,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&json).expect("plain data serialises") + "\n"
}

fn size_error(result: &Segmentation) -> ResultFileError {
    ResultFileError::Size {
        values: result.confidence.len(),
        width: result.width,
        height: result.height,
    }
}

fn encode_png<P>(
    image: &ImageBuffer<P, Vec<P::Subpixel>>,
    file: &'static str,
) -> Result<Vec<u8>, ResultFileError>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
{
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, ImageFormat::Png)
        .map_err(|e| ResultFileError::Encode {
            file,
            message: e.to_string(),
        })?;
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> Segmentation {
        Segmentation {
            height: 2,
            width: 3,
            detections: vec![Detection {
                bbox: [0.0, 0.0, 2.0, 1.0],
                score: 0.75,
                class: 0,
            }],
            confidence: vec![0.75, 0.75, 0.0, 0.0, 0.5, 0.0],
        }
    }

    #[test]
    fn the_mask_is_255_where_a_box_covers() {
        let png = image::load_from_memory(&mask_png(&result()).unwrap()).unwrap();
        let grey = png.as_luma8().expect("8-bit grey");
        assert_eq!(grey.dimensions(), (3, 2));
        assert_eq!(grey.as_raw(), &[255, 255, 0, 0, 255, 0]);
    }

    #[test]
    fn the_confidence_keeps_16_bits() {
        let png = image::load_from_memory(&confidence_png(&result()).unwrap()).unwrap();
        let grey = png.as_luma16().expect("16-bit grey");
        assert_eq!(grey.as_raw(), &[49151, 49151, 0, 0, 32768, 0]);
    }

    #[test]
    fn boxes_are_listed_with_their_scores() {
        let json: serde_json::Value =
            serde_json::from_str(&boxes_json(&result(), "a.png", "a.npy")).unwrap();
        assert_eq!(json["image"], "a.png");
        assert_eq!(json["width"], 3);
        assert_eq!(json["detections"][0]["box"][2], 2.0);
        assert_eq!(json["detections"][0]["score"], 0.75);
    }

    #[test]
    fn a_result_of_the_wrong_size_is_an_error() {
        let mut bad = result();
        bad.confidence.pop();
        assert!(matches!(mask_png(&bad), Err(ResultFileError::Size { .. })));
        assert!(matches!(
            confidence_png(&bad),
            Err(ResultFileError::Size { .. })
        ));
    }
}
