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
//! features at the taps and sums them, level by level, in chunks of boxes
//! so that no gathered tensor exceeds [`MAX_GATHER_BYTES`].

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

/// The taps of every bin of one box on a level of `height x width`, as
/// indices into its flattened `height * width` values.
fn box_taps(
    b: &Xyxy,
    stride: usize,
    (height, width): (usize, usize),
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
                        x_taps.iter().map(move |&(x, wx)| (y * width + x, wy * wx))
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
    // Each level is gathered from on its own: their concatenation can
    // exceed the largest buffer a device allocates.
    let mut pooled = Vec::new();
    let mut order: Vec<usize> = Vec::with_capacity(boxes.len());
    for (level, feature) in features.iter().enumerate() {
        let on_level: Vec<usize> = (0..boxes.len()).filter(|&i| levels[i] == level).collect();
        if on_level.is_empty() {
            continue;
        }
        let [_, _, h, w] = feature.dims();
        let flat = feature.clone().reshape([channels, h * w]);
        let bins = on_level
            .iter()
            .map(|&i| box_taps(&boxes[i], strides[level], (h, w), params));
        pooled.extend(gather_in_chunks(&flat, bins, out));
        order.extend(on_level);
    }
    // Back to the order of `boxes`.
    let mut inverse = vec![0i64; boxes.len()];
    for (position, &i) in order.iter().enumerate() {
        inverse[i] = position as i64;
    }
    let inverse = Tensor::<1, Int>::from_data(TensorData::new(inverse, [boxes.len()]), &device);
    Tensor::cat(pooled, 0).select(0, inverse)
}

/// Pooled features `[n, C, out, out]` of boxes given by their bins' taps
/// into `flat` (`[C, h * w]`), in chunks of at most [`MAX_GATHER_BYTES`].
fn gather_in_chunks(
    flat: &Tensor<2>,
    boxes: impl Iterator<Item = Vec<Vec<(usize, f32)>>>,
    out: usize,
) -> Vec<Tensor<4>> {
    let channels = flat.dims()[0];
    let mut chunks = Vec::new();
    let mut bins: Vec<Vec<(usize, f32)>> = Vec::new();
    let mut max_taps = 1;
    for box_bins in boxes {
        let box_taps = box_bins.iter().map(Vec::len).max().unwrap_or(0);
        let bytes = (bins.len() + box_bins.len()) * box_taps.max(max_taps) * channels * 4;
        if !bins.is_empty() && bytes > MAX_GATHER_BYTES {
            chunks.push(gather(flat, &bins, max_taps, out));
            bins.clear();
            max_taps = 1;
        }
        max_taps = max_taps.max(box_taps);
        bins.extend(box_bins);
    }
    chunks.push(gather(flat, &bins, max_taps, out));
    chunks
}

/// The weighted sums over `taps` taps per bin (missing taps weigh 0).
fn gather(flat: &Tensor<2>, bins: &[Vec<(usize, f32)>], taps: usize, out: usize) -> Tensor<4> {
    let device = flat.device();
    let channels = flat.dims()[0];
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
        .reshape([channels, bins.len() / (out * out), out, out])
        .permute([1, 0, 2, 3])
}
