//! COCO instance masks (`annotation.segmentation`, as pycocotools'
//! `annToMask` reads it): polygons (`[[x0, y0, x1, y1, ...], ...]`, usually
//! `iscrowd = 0`) or run-length encodings (`{"size": [h, w], "counts":
//! ...}`, `iscrowd = 1`) whose counts are a list of integers
//! (uncompressed) or a string (compressed, pycocotools `maskApi.c`
//! `rleFrString`: 6 bits a character from ASCII 48, 5 of value and a
//! continuation bit, the last character's bit 4 the sign, counts after the
//! second stored as differences to the count two before). Runs alternate
//! background and object starting with background, in column-major
//! order.
//!
//! Polygons are rasterised with the even-odd rule at pixel centres: pixel
//! `(x, y)` is inside when `(x + 0.5, y + 0.5)` is; the polygons of one
//! instance are united (`maskUtils.merge`). pycocotools'
//! `rleFrPoly` traces the outline on a 5x upsampled grid instead, so the
//! two may differ by a pixel along the border.

use image::{GrayImage, Luma};
use serde::Deserialize;

/// One instance's `segmentation` field.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Segmentation {
    /// One or more polygons, each `[x0, y0, x1, y1, ...]` in pixels.
    Polygons(Vec<Vec<f64>>),
    /// A run-length encoding of the whole image.
    Rle { size: [u32; 2], counts: RleCounts },
}

/// The counts of an RLE: compressed string or plain list.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RleCounts {
    Compressed(String),
    Uncompressed(Vec<u64>),
}

impl Segmentation {
    /// The `height` x `width` mask (255 on the object).
    pub fn decode(&self, height: u32, width: u32) -> Result<GrayImage, String> {
        match self {
            Self::Polygons(polygons) => Ok(polygon_mask(polygons, height, width)),
            Self::Rle { size, counts } => {
                if *size != [height, width] {
                    return Err(format!(
                        "the RLE size is {:?} (height, width), the image is {height}x{width}",
                        size
                    ));
                }
                let counts = match counts {
                    RleCounts::Compressed(s) => decode_rle_string(s)?,
                    RleCounts::Uncompressed(c) => c.clone(),
                };
                rle_mask(&counts, height, width)
            }
        }
    }
}

/// Rasterises polygons (even-odd rule, pixel centres).
pub fn polygon_mask(polygons: &[Vec<f64>], height: u32, width: u32) -> GrayImage {
    let mut mask = GrayImage::new(width, height);
    for polygon in polygons {
        let points: Vec<(f64, f64)> = polygon.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        if points.len() < 3 {
            continue;
        }
        for y in 0..height {
            let cy = y as f64 + 0.5;
            // Crossings of the row's centre line with the edges.
            let mut xs: Vec<f64> = Vec::new();
            for (i, &(x0, y0)) in points.iter().enumerate() {
                let (x1, y1) = points[(i + 1) % points.len()];
                if (y0 <= cy) != (y1 <= cy) {
                    xs.push(x0 + (cy - y0) * (x1 - x0) / (y1 - y0));
                }
            }
            xs.sort_by(f64::total_cmp);
            for span in xs.chunks_exact(2) {
                // Pixels whose centre lies in [span[0], span[1]).
                let first = (span[0] - 0.5).ceil().max(0.0);
                let end = (span[1] - 0.5).ceil().min(width as f64);
                let mut x = first;
                while x < end {
                    mask.put_pixel(x as u32, y, Luma([255]));
                    x += 1.0;
                }
            }
        }
    }
    mask
}

/// Decodes pycocotools' compressed RLE string into counts.
pub fn decode_rle_string(s: &str) -> Result<Vec<u64>, String> {
    let bytes = s.as_bytes();
    let mut counts: Vec<u64> = Vec::new();
    let mut p = 0;
    while p < bytes.len() {
        let (mut x, mut k, mut more) = (0i64, 0u32, true);
        while more {
            let Some(&byte) = bytes.get(p) else {
                return Err("the compressed RLE ends inside a count".into());
            };
            if !(48..48 + 64).contains(&byte) || k > 12 {
                return Err(format!(
                    "not a compressed RLE character: {:?}",
                    byte as char
                ));
            }
            let c = i64::from(byte - 48);
            x |= (c & 0x1f) << (5 * k);
            more = c & 0x20 != 0;
            p += 1;
            k += 1;
            if !more && c & 0x10 != 0 {
                x |= -1i64 << (5 * k);
            }
        }
        if counts.len() > 2 {
            x += counts[counts.len() - 2] as i64;
        }
        counts.push(u64::try_from(x).map_err(|_| format!("negative RLE count {x}"))?);
    }
    Ok(counts)
}

/// The mask of column-major RLE counts (background first).
pub fn rle_mask(counts: &[u64], height: u32, width: u32) -> Result<GrayImage, String> {
    let total: u64 = counts.iter().sum();
    let pixels = u64::from(height) * u64::from(width);
    if total != pixels {
        return Err(format!(
            "the RLE counts cover {total} pixels, the {height}x{width} image has {pixels}"
        ));
    }
    let mut mask = GrayImage::new(width, height);
    let mut at = 0u64;
    for (run, &count) in counts.iter().enumerate() {
        if run % 2 == 1 {
            for i in at..at + count {
                let (x, y) = (
                    (i / u64::from(height)) as u32,
                    (i % u64::from(height)) as u32,
                );
                mask.put_pixel(x, y, Luma([255]));
            }
        }
        at += count;
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(mask: &GrayImage) -> Vec<String> {
        (0..mask.height())
            .map(|y| {
                (0..mask.width())
                    .map(|x| {
                        if mask.get_pixel(x, y).0[0] > 0 {
                            '#'
                        } else {
                            '.'
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn polygons_fill_the_pixels_whose_centres_lie_inside() {
        // A rectangle from (1, 1) to (4, 3): centres 1.5..3.5 by 1.5..2.5.
        let rect = polygon_mask(&[vec![1.0, 1.0, 4.0, 1.0, 4.0, 3.0, 1.0, 3.0]], 4, 5);
        assert_eq!(rows(&rect), [".....", ".###.", ".###.", "....."]);
        // A right triangle (0, 0), (4, 0), (0, 4): centre (x + .5, y + .5)
        // is inside when x + y + 1 < 4.
        let triangle = polygon_mask(&[vec![0.0, 0.0, 4.0, 0.0, 0.0, 4.0]], 4, 4);
        assert_eq!(rows(&triangle), ["###.", "##..", "#...", "...."]);
        // Parts beyond the image are clipped.
        let outside = polygon_mask(&[vec![-5.0, -5.0, 2.0, -5.0, 2.0, 1.0, -5.0, 1.0]], 2, 3);
        assert_eq!(rows(&outside), ["##.", "..."]);
    }

    #[test]
    fn uncompressed_rle_runs_are_column_major_starting_with_background() {
        // 3 x 3: 1 background, 2 object (column 0 rows 1-2), 3 background,
        // 1 object (column 2 row 0), 2 background.
        let mask = rle_mask(&[1, 2, 3, 1, 2], 3, 3).unwrap();
        assert_eq!(rows(&mask), ["..#", "#..", "#.."]);
        let short = rle_mask(&[1, 2], 3, 3).unwrap_err();
        assert!(short.contains("cover 3 pixels"), "{short}");
    }

    #[test]
    fn compressed_rle_strings_decode_as_pycocotools_does() {
        // Counts [1, 2, 3, 1, 2]: the first three are single characters
        // 48 + n; the fourth is stored as 1 - 2 = -1 (0x1f, sign bit
        // set: 'O'), the fifth as 2 - 3 = -1 ('O').
        assert_eq!(decode_rle_string("123OO").unwrap(), [1, 2, 3, 1, 2]);
        // 100 = 0b11_00100: low 5 bits 4 with the continuation bit
        // (48 + 0x20 + 4 = 'T'), then 3 ('3').
        assert_eq!(decode_rle_string("T3").unwrap(), [100]);
        let seg: Segmentation =
            serde_json::from_str(r#"{"size": [3, 3], "counts": "123OO"}"#).unwrap();
        assert_eq!(rows(&seg.decode(3, 3).unwrap()), ["..#", "#..", "#.."]);
        assert!(decode_rle_string("T").is_err());
        assert!(decode_rle_string(" ").is_err());
    }

    #[test]
    fn segmentation_fields_parse_in_all_three_forms() {
        let poly: Segmentation = serde_json::from_str("[[0, 0, 2, 0, 2, 2]]").unwrap();
        assert!(matches!(poly, Segmentation::Polygons(_)));
        let plain: Segmentation =
            serde_json::from_str(r#"{"size": [2, 2], "counts": [0, 4]}"#).unwrap();
        assert_eq!(rows(&plain.decode(2, 2).unwrap()), ["##", "##"]);
        let wrong = plain.decode(3, 2).unwrap_err();
        assert!(wrong.contains("RLE size"), "{wrong}");
    }
}
