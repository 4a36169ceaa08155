//! A colour preview of a synthetic map, for eyes only: scores normalised
//! by the map's value range, the "inferno" colour map (black, purple,
//! orange, pale yellow), each object's box in cyan.

use super::SyntheticMap;
use image::{Rgb, RgbImage};

/// Inferno at eight evenly spaced stops (matplotlib's, rounded).
const INFERNO: [[f32; 3]; 8] = [
    [0.0, 0.0, 4.0],
    [40.0, 11.0, 84.0],
    [101.0, 21.0, 110.0],
    [159.0, 42.0, 99.0],
    [212.0, 72.0, 66.0],
    [245.0, 125.0, 21.0],
    [250.0, 193.0, 39.0],
    [252.0, 255.0, 164.0],
];

const BOX: Rgb<u8> = Rgb([0, 230, 255]);

impl SyntheticMap {
    /// The map shrunk by `downscale` (each output pixel the mean of a
    /// `downscale x downscale` block; 1 keeps the size), coloured, with the
    /// objects' boxes drawn one pixel wide.
    pub fn preview(&self, downscale: usize) -> RgbImage {
        let f = downscale.max(1);
        let (h, w) = (self.height.div_ceil(f), self.width.div_ceil(f));
        let mut image = RgbImage::new(w as u32, h as u32);
        for y in 0..h {
            for x in 0..w {
                let rows = y * f..((y + 1) * f).min(self.height);
                let cols = x * f..((x + 1) * f).min(self.width);
                let n = rows.len() * cols.len();
                let sum: f32 = rows
                    .flat_map(|r| {
                        self.values[r * self.width + cols.start..r * self.width + cols.end].iter()
                    })
                    .map(|&v| self.range.normalise(v))
                    .sum();
                image.put_pixel(x as u32, y as u32, colour(sum / n as f32));
            }
        }
        for object in &self.objects {
            let [x0, y0, x1, y1] = object.bbox.map(|c| c as usize / f);
            let x1 = x1.saturating_sub(1).max(x0).min(w - 1);
            let y1 = y1.saturating_sub(1).max(y0).min(h - 1);
            for x in x0..=x1 {
                image.put_pixel(x as u32, y0 as u32, BOX);
                image.put_pixel(x as u32, y1 as u32, BOX);
            }
            for y in y0..=y1 {
                image.put_pixel(x0 as u32, y as u32, BOX);
                image.put_pixel(x1 as u32, y as u32, BOX);
            }
        }
        image
    }
}

/// The inferno colour of `t` in `[0, 1]`, in 256 steps as matplotlib's
/// colour maps (fewer distinct colours also keep the PNG files small).
fn colour(t: f32) -> Rgb<u8> {
    let t = (t.clamp(0.0, 1.0) * 255.0).round() / 255.0;
    let s = t * (INFERNO.len() - 1) as f32;
    let i = (s as usize).min(INFERNO.len() - 2);
    let u = s - i as f32;
    let [a, b] = [INFERNO[i], INFERNO[i + 1]];
    Rgb([0, 1, 2].map(|c| (a[c] + (b[c] - a[c]) * u).round() as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthesis::{SynthesisConfig, synthesize};

    #[test]
    fn preview_has_the_shrunk_size_and_draws_boxes() {
        let config = SynthesisConfig {
            height: 96,
            width: 160,
            ..SynthesisConfig::default()
        };
        let map = (0..)
            .map(|seed| synthesize(&config, seed).unwrap())
            .find(|m| !m.objects.is_empty())
            .unwrap();
        let image = map.preview(2);
        assert_eq!(image.dimensions(), (80, 48));
        let [x0, y0, ..] = map.objects[0].bbox.map(|c| c as u32 / 2);
        assert_eq!(*image.get_pixel(x0, y0), BOX);
        assert_eq!(colour(0.0), Rgb([0, 0, 4]));
        assert_eq!(colour(1.0), Rgb([252, 255, 164]));
    }
}
