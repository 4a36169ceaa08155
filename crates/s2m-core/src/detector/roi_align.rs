//! Multi-level ROI-align as plain tensor ops: the CPU path of the pooler
//! and the oracle our WGSL kernel is tested against.
//!
//! Semantics of torchvision's `roi_align` (detectron2 `ROIAlignV2`):
//! with `aligned`, box coordinates are shifted by -0.5 pixel after scaling
//! by `1 / stride` and a box may be smaller than a pixel; each of the
//! `out x out` bins averages `grid_h x grid_w` bilinear samples, the grid
//! being `sampling_ratio` or, when it is 0, `ceil(box side / out)` per axis.
//! A sample further than one pixel outside the map contributes 0; one
//! within a pixel of the border is clamped onto it.
//!
//! Bilinear weights and the validity test factor into a y part and an x
//! part, so the host computes per box and bin the taps `(feature index,
//! weight)` of both axes and their products; the device gathers the
//! features at the taps and sums them. Boxes are processed in chunks so
//! that no gathered tensor exceeds [`MAX_GATHER_BYTES`].

use burn::tensor::{Int, Tensor, TensorData};

pub use s2m_kernels::roi_align::RoiAlignParams;

use super::boxes::Xyxy;

/// The largest gathered feature tensor built at once, in bytes.
const MAX_GATHER_BYTES: usize = 64 << 20;

/// The sample taps along one axis of one box: per output bin, the
/// `(position, weight)` pairs, weights already divided by the grid size.
fn axis_taps(
    start: f32,
    length: f32,
    size: usize,
    params: &RoiAlignParams,
) -> Vec<Vec<(usize, f32)>> {
    let out = params.output_size;
    let bin = length / out as f32;
    let grid = if params.sampling_ratio > 0 {
        params.sampling_ratio
    } else {
        (length / out as f32).ceil().max(0.0) as usize
    };
    (0..out)
        .map(|p| {
            let mut taps = Vec::with_capacity(2 * grid);
            for i in 0..grid {
                let at = start + p as f32 * bin + (i as f32 + 0.5) * bin / grid as f32;
                if at < -1.0 || at > size as f32 {
                    continue;
                }
                let at = at.max(0.0);
                let (low, high, at) = if at as usize >= size - 1 {
                    (size - 1, size - 1, (size - 1) as f32)
                } else {
                    (at as usize, at as usize + 1, at)
                };
                let frac = at - low as f32;
                taps.push((low, (1.0 - frac) / grid as f32));
                taps.push((high, frac / grid as f32));
            }
            taps
        })
        .collect()
}

/// The taps of every bin of one box on a level of `height x width` whose
/// values start at `offset` in the flattened features.
fn box_taps(
    b: &Xyxy,
    stride: usize,
    (height, width): (usize, usize),
    offset: usize,
    params: &RoiAlignParams,
) -> Vec<Vec<(usize, f32)>> {
    let scale = 1.0 / stride as f32;
    let shift = if params.aligned { 0.5 } else { 0.0 };
    let (x0, y0) = (b[0] * scale - shift, b[1] * scale - shift);
    let (mut w, mut h) = ((b[2] - b[0]) * scale, (b[3] - b[1]) * scale);
    if !params.aligned {
        // Legacy mode: boxes at least one pixel.
        w = w.max(1.0);
        h = h.max(1.0);
    }
    let ys = axis_taps(y0, h, height, params);
    let xs = axis_taps(x0, w, width, params);
    let mut bins = Vec::with_capacity(ys.len() * xs.len());
    for y_taps in &ys {
        for x_taps in &xs {
            bins.push(
                y_taps
                    .iter()
                    .flat_map(|&(y, wy)| {
                        x_taps
                            .iter()
                            .map(move |&(x, wx)| (offset + y * width + x, wy * wx))
                    })
                    .collect(),
            );
        }
    }
    bins
}

/// ROI-align of `boxes` (image pixels), box `i` pooled from
/// `features[levels[i]]` whose stride is `strides[levels[i]]`. Features are
/// `[1, C, h, w]`; the result is `[boxes, C, out, out]`.
pub fn multi_level_roi_align(
    features: &[Tensor<4>],
    strides: &[usize],
    boxes: &[Xyxy],
    levels: &[usize],
    params: &RoiAlignParams,
) -> Tensor<4> {
    let device = features[0].device();
    let channels = features[0].dims()[1];
    let out = params.output_size;
    if boxes.is_empty() {
        return Tensor::zeros([0, channels, out, out], &device);
    }
    let mut offsets = Vec::with_capacity(features.len());
    let mut total = 0;
    for f in features {
        offsets.push(total);
        total += f.dims()[2] * f.dims()[3];
    }
    let flat = Tensor::cat(
        features
            .iter()
            .map(|f| f.clone().reshape([channels, f.dims()[2] * f.dims()[3]]))
            .collect(),
        1,
    );

    let gather = |bins: &[Vec<(usize, f32)>], boxes_in_chunk: usize| {
        let taps = bins.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut index = vec![0i64; bins.len() * taps];
        let mut weight = vec![0f32; bins.len() * taps];
        for (bin, bin_taps) in bins.iter().enumerate() {
            for (t, &(i, w)) in bin_taps.iter().enumerate() {
                index[bin * taps + t] = i as i64;
                weight[bin * taps + t] = w;
            }
        }
        let n = index.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [n]), &device);
        let weight = Tensor::<2>::from_data(TensorData::new(weight, [1, n]), &device);
        (flat.clone().select(1, index) * weight)
            .reshape([channels, bins.len(), taps])
            .sum_dim(2)
            .reshape([channels, boxes_in_chunk, out, out])
            .permute([1, 0, 2, 3])
    };

    let mut chunks = Vec::new();
    let mut bins: Vec<Vec<(usize, f32)>> = Vec::new();
    let mut boxes_in_chunk = 0;
    let mut max_taps = 1;
    for (b, &level) in boxes.iter().zip(levels) {
        let f = &features[level];
        let box_bins = box_taps(
            b,
            strides[level],
            (f.dims()[2], f.dims()[3]),
            offsets[level],
            params,
        );
        let taps = box_bins
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .max(max_taps);
        let bytes = (bins.len() + box_bins.len()) * taps * channels * 4;
        if boxes_in_chunk > 0 && bytes > MAX_GATHER_BYTES {
            chunks.push(gather(&bins, boxes_in_chunk));
            bins.clear();
            boxes_in_chunk = 0;
            max_taps = 1;
        }
        max_taps = max_taps.max(box_bins.iter().map(Vec::len).max().unwrap_or(0));
        bins.extend(box_bins);
        boxes_in_chunk += 1;
    }
    chunks.push(gather(&bins, boxes_in_chunk));
    Tensor::cat(chunks, 0)
}
