//! Multi-level ROI pooling (detectron2 `ROIPooler`): each box is pooled
//! from the FPN level (P2..P5) that matches its size, with ROI-align: our
//! WGSL kernel on wgpu devices, tensor ops elsewhere.

use burn::tensor::Tensor;

use super::boxes::Xyxy;
use super::config::DetectorConfig;
use super::roi_align::{RoiAlignParams, multi_level_roi_align};

/// detectron2's canonical box: a 224x224 box maps to level 4.
const CANONICAL_BOX_SIZE: f32 = 224.0;
const CANONICAL_LEVEL: f32 = 4.0;

/// The FPN level (2..=5 for P2..P5) a box is pooled from:
/// `floor(4 + log2(sqrt(area) / 224 + 1e-8))`, clamped to the levels
/// (`assign_boxes_to_levels`).
pub fn fpn_level(b: &[f32; 4], min_level: usize, max_level: usize) -> usize {
    let area = (b[2] - b[0]) * (b[3] - b[1]);
    let size = area.max(0.0).sqrt();
    let level = (CANONICAL_LEVEL + (size / CANONICAL_BOX_SIZE + 1e-8).log2()).floor();
    (level.max(min_level as f32) as usize).min(max_level)
}

/// Pooled features `[boxes, C, S, S]` of `boxes` from P2..P5.
pub fn pool(features: &[Tensor<4>], boxes: &[Xyxy], config: &DetectorConfig) -> Tensor<4> {
    let levels: Vec<usize> = boxes.iter().map(|b| fpn_level(b, 2, 5) - 2).collect();
    let params = RoiAlignParams {
        output_size: config.roi_pooler_resolution,
        sampling_ratio: config.roi_sampling_ratio,
        aligned: config.roi_aligned,
    };
    let (features, strides) = (&features[..4], &config.strides[..4]);
    s2m_kernels::roi_align::multi_level_roi_align(features, strides, boxes, &levels, &params)
        .unwrap_or_else(|| multi_level_roi_align(features, strides, boxes, &levels, &params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_size_picks_the_level() {
        assert_eq!(fpn_level(&[0.0, 0.0, 224.0, 224.0], 2, 5), 4);
        assert_eq!(fpn_level(&[0.0, 0.0, 223.0, 224.0], 2, 5), 3);
        assert_eq!(fpn_level(&[0.0, 0.0, 112.0, 112.0], 2, 5), 3);
        assert_eq!(fpn_level(&[0.0, 0.0, 448.0, 448.0], 2, 5), 5);
        assert_eq!(fpn_level(&[0.0, 0.0, 2000.0, 2000.0], 2, 5), 5);
        assert_eq!(fpn_level(&[0.0, 0.0, 10.0, 10.0], 2, 5), 2);
        assert_eq!(fpn_level(&[5.0, 5.0, 5.0, 5.0], 2, 5), 2);
    }
}
