//! Multi-level ROI-align in one WGSL dispatch (`roi_align.wgsl`): every box
//! of every FPN level, following torchvision's `roi_align` (detectron2
//! `ROIAlignV2` when `aligned`), one thread per output bin and block of
//! channels. The tensor-op implementation in
//! `s2m_core::detector::roi_align` is the CPU path and the oracle the tests
//! compare this kernel with.

use burn::backend::wgpu::{CubeBackend, CubeTensor, SourceKernel};
use burn::cubecl::CubeCount;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{DType, Shape, Tensor};

use crate::wgpu_launch::{WORKGROUP_SIZE, WgslSource, cube_f32, grid, is_wgpu, upload_words};

/// How boxes are pooled (detectron2 `ROIPooler` arguments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoiAlignParams {
    /// Output side (7 in the box head).
    pub output_size: usize,
    /// Samples per bin and axis; 0 = adaptive, `ceil(box side / output)`.
    pub sampling_ratio: usize,
    /// Half-pixel offset, and boxes may be smaller than a pixel.
    pub aligned: bool,
}

/// Number of FPN levels the kernel binds (P2..P5).
pub const LEVELS: usize = 4;

/// Channels one thread pools (`CHANNEL_BLOCK` in the WGSL source).
const CHANNEL_BLOCK: usize = 32;

const SOURCE: WgslSource = WgslSource {
    text: include_str!("roi_align.wgsl"),
    name: "roi_align",
};

/// ROI-align of `boxes` (image pixels, XYXY), box `i` pooled from
/// `features[levels[i]]` (`[1, C, h, w]`, stride `strides[levels[i]]`);
/// `[boxes, C, out, out]`. `None` unless the features are f32 tensors on a
/// wgpu device, there are exactly [`LEVELS`] of them and at least one box.
pub fn multi_level_roi_align(
    features: &[Tensor<4>],
    strides: &[usize],
    boxes: &[[f32; 4]],
    levels: &[usize],
    params: &RoiAlignParams,
) -> Option<Tensor<4>> {
    if features.len() != LEVELS
        || strides.len() != LEVELS
        || boxes.is_empty()
        || boxes.len() != levels.len()
        || !is_wgpu(&features[0].device())
    {
        return None;
    }
    let channels = features[0].dims()[1];
    let mut cube_features = Vec::with_capacity(LEVELS);
    for feature in features {
        cube_features.push(cube_f32(feature.clone())?);
    }
    let size = params.output_size;
    let total = boxes.len() * channels * size * size;
    let threads = boxes.len() * channels.div_ceil(CHANNEL_BLOCK) * size * size;

    let mut info: Vec<u32> = vec![
        channels as u32,
        boxes.len() as u32,
        size as u32,
        params.sampling_ratio as u32,
        params.aligned as u32,
        threads as u32,
        0,
        0,
    ];
    for (feature, &stride) in cube_features.iter().zip(strides) {
        let shape = feature.meta.shape();
        info.extend([
            shape[2] as u32,
            shape[3] as u32,
            (1.0 / stride as f32).to_bits(),
            0,
        ]);
    }
    info.extend(levels.iter().map(|&l| l as u32));
    let box_words: Vec<u32> = boxes.iter().flatten().map(|v| v.to_bits()).collect();

    let first = &cube_features[0];
    let client = first.client.clone();
    let info = upload_words(first, &info);
    let rois = upload_words(first, &box_words);
    let output = CubeTensor::new_contiguous(
        client.clone(),
        first.device.clone(),
        Shape::new([boxes.len(), channels, size, size]),
        client.empty(total * std::mem::size_of::<f32>()),
        DType::F32,
    );
    let (x, y) = grid((threads as u32).div_ceil(WORKGROUP_SIZE));
    let mut arguments = KernelArguments::new();
    for feature in &cube_features {
        arguments = arguments.with_buffer(feature.handle.clone().binding());
    }
    let arguments = arguments
        .with_buffer(rois.binding())
        .with_buffer(info.binding())
        .with_buffer(output.handle.clone().binding());
    client.launch(
        Box::new(SourceKernel::new(SOURCE, WgslSource::cube_dim())),
        CubeCount::Static(x, y, 1),
        arguments,
    );
    Some(Tensor::from_primitive::<CubeBackend>(output))
}
