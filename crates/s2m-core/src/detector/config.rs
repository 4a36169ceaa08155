//! Every hyper-parameter of the prompt generator in one place, with the
//! values of the paper's detectron2 configuration as defaults
//! (REFERENCE.md, "Prompt generator").

/// Configuration of the prompt generator.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Added to the single-channel score map replicated to three channels:
    /// detectron2 subtracts its BGR pixel mean from the unnormalised input.
    pub pixel_mean: [f32; 3],
    pub pixel_std: [f32; 3],
    /// Anchor side per FPN level P2..P6 (one size per level).
    pub anchor_sizes: [f32; 5],
    pub anchor_aspect_ratios: [f32; 3],
    /// Strides of P2..P6.
    pub strides: [usize; 5],
    /// Anchor centre offset within a cell, in strides (detectron2: 0.0).
    pub anchor_offset: f32,
    pub rpn_nms_threshold: f32,
    pub rpn_pre_nms_top_k: usize,
    pub rpn_post_nms_top_k: usize,
    /// Box regression weights (wx, wy, ww, wh) of the RPN.
    pub rpn_box_weights: [f32; 4],
    /// Box regression weights of the ROI box head.
    pub roi_box_weights: [f32; 4],
    pub roi_pooler_resolution: usize,
    /// 0 = adaptive (ceil(roi size / output size) samples per bin).
    pub roi_sampling_ratio: usize,
    pub roi_aligned: bool,
    pub box_head_fc_dim: usize,
    pub num_classes: usize,
    pub test_score_threshold: f32,
    pub test_nms_threshold: f32,
    pub test_detections_per_image: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            pixel_mean: [103.53, 116.28, 123.675],
            pixel_std: [1.0, 1.0, 1.0],
            anchor_sizes: [32.0, 64.0, 128.0, 256.0, 512.0],
            anchor_aspect_ratios: [0.5, 1.0, 2.0],
            strides: [4, 8, 16, 32, 64],
            anchor_offset: 0.0,
            rpn_nms_threshold: 0.7,
            rpn_pre_nms_top_k: 1000,
            rpn_post_nms_top_k: 1000,
            rpn_box_weights: [1.0, 1.0, 1.0, 1.0],
            roi_box_weights: [10.0, 10.0, 5.0, 5.0],
            roi_pooler_resolution: 7,
            roi_sampling_ratio: 0,
            roi_aligned: true,
            box_head_fc_dim: 1024,
            num_classes: 2,
            test_score_threshold: 0.05,
            test_nms_threshold: 0.5,
            test_detections_per_image: 100,
        }
    }
}
