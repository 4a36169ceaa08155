//! What the head learns for each token of SAM's embedding grid: the
//! fraction of the token's pixels that are anomalous, among its non-void
//! pixels (REFERENCE.md's probe labels tokens by that fraction), and a
//! loss weight: 0 for tokens in the padding, and for tokens whose pixels
//! are mostly void.
//!
//! A token `(i, j)` covers the input pixels `[16 i, 16 i + 16) x [16 j,
//! 16 j + 16)` of SAM's 1024 input; an original pixel `(y, x)` lands in
//! the token of its centre, `((y + 0.5) * resized_h / original_h) / 16`.

use image::GrayImage;
use s2m_core::sam::transforms::ImageFrame;

use super::VOID;

/// Targets and weights of a `grid` x `grid` token map, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenTargets {
    pub grid: usize,
    /// Anomalous fraction of each token's non-void pixels, in 0..=1.
    pub anomaly: Vec<f32>,
    /// 1 for tokens the loss counts, 0 for the others.
    pub weight: Vec<f32>,
}

impl TokenTargets {
    /// The targets of `labels` (0 / 1 / [`VOID`]) embedded through `frame`
    /// on a `grid` x `grid` token map.
    pub fn of(labels: &GrayImage, frame: &ImageFrame, grid: usize) -> Self {
        let (w, h) = labels.dimensions();
        let token_side = frame.input_size as f64 / grid as f64;
        let token = |p: u32, resized: usize, original: u32| {
            let at = (p as f64 + 0.5) * resized as f64 / original as f64;
            ((at / token_side) as usize).min(grid - 1)
        };
        let rows: Vec<usize> = (0..h).map(|y| token(y, frame.resized.0, h)).collect();
        let cols: Vec<usize> = (0..w).map(|x| token(x, frame.resized.1, w)).collect();
        let mut counts = vec![[0u32; 3]; grid * grid]; // inlier, anomaly, void
        for (x, y, label) in labels.enumerate_pixels() {
            let kind = match label.0[0] {
                VOID => 2,
                0 => 0,
                _ => 1,
            };
            counts[rows[y as usize] * grid + cols[x as usize]][kind] += 1;
        }
        let anomaly = counts
            .iter()
            .map(|[inlier, anomaly, _]| {
                let known = inlier + anomaly;
                if known == 0 {
                    0.0
                } else {
                    *anomaly as f32 / known as f32
                }
            })
            .collect();
        let weight = counts
            .iter()
            .map(|[inlier, anomaly, void]| {
                let known = inlier + anomaly;
                if known > 0 && known >= *void {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        Self {
            grid,
            anomaly,
            weight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn fractions_follow_the_resized_frame_and_skip_padding_and_void() {
        // 8 x 4 pixels -> input 16 (resized 16 x 8 high), grid 4: each
        // token covers 2 x 2 original pixels; the bottom two token rows
        // are padding.
        let mut labels = GrayImage::new(8, 4);
        labels.put_pixel(0, 0, Luma([1]));
        for (x, y) in [(2, 0), (3, 0), (2, 1)] {
            labels.put_pixel(x, y, Luma([VOID]));
        }
        labels.put_pixel(3, 1, Luma([1]));
        let targets = TokenTargets::of(&labels, &ImageFrame::new((4, 8), 16), 4);
        assert_eq!(targets.anomaly[0], 0.25);
        assert_eq!(targets.weight[0], 1.0);
        assert_eq!(targets.anomaly[1], 1.0, "the only known pixel is anomalous");
        assert_eq!(targets.weight[1], 0.0, "three of four pixels are void");
        assert_eq!(targets.weight[4..8], [1.0; 4]);
        assert_eq!(targets.weight[8..], [0.0; 8], "padding");
    }
}
