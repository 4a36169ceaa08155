// Multi-level ROI-align (torchvision `roi_align` semantics, as detectron2's
// ROIAlignV2 uses it) over every box of every FPN level in one dispatch;
// each box reads the level the host assigned to it.
//
// info layout (u32 words):
//   0 channels, 1 boxes, 2 output size, 3 sampling ratio (0 = adaptive),
//   4 aligned (0/1), 5 threads, 6..7 unused,
//   8 + 4 l: height, width, bits of 1 / stride of level l (l = 0..3),
//   24 + r: level of box r.

@group(0) @binding(0) var<storage, read_write> level0: array<f32>;
@group(0) @binding(1) var<storage, read_write> level1: array<f32>;
@group(0) @binding(2) var<storage, read_write> level2: array<f32>;
@group(0) @binding(3) var<storage, read_write> level3: array<f32>;
@group(0) @binding(4) var<storage, read_write> rois: array<f32>;
@group(0) @binding(5) var<storage, read_write> info: array<u32>;
@group(0) @binding(6) var<storage, read_write> pooled: array<f32>;

// One thread per output bin and block of channels: the sample positions
// and bilinear weights of a bin are computed once and applied to every
// channel of the block.
const CHANNEL_BLOCK: u32 = 32u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let index = global_id.x + global_id.y * workgroups.x * {{ workgroup_size }}u;
    if (index >= info[5]) {
        return;
    }
    let channels = info[0];
    let size = info[2];
    let blocks = (channels + CHANNEL_BLOCK - 1u) / CHANNEL_BLOCK;
    let px = index % size;
    let py = (index / size) % size;
    let block = (index / (size * size)) % blocks;
    let roi = index / (size * size * blocks);
    let first_channel = block * CHANNEL_BLOCK;
    let block_channels = min(CHANNEL_BLOCK, channels - first_channel);

    let level = min(info[24u + roi], 3u);
    let height = info[8u + 4u * level];
    let width = info[9u + 4u * level];
    let plane = height * width;
    let scale = bitcast<f32>(info[10u + 4u * level]);
    let aligned = info[4] != 0u;
    let offset = select(0.0, 0.5, aligned);

    let x0 = rois[4u * roi] * scale - offset;
    let y0 = rois[4u * roi + 1u] * scale - offset;
    var roi_w = (rois[4u * roi + 2u] - rois[4u * roi]) * scale;
    var roi_h = (rois[4u * roi + 3u] - rois[4u * roi + 1u]) * scale;
    if (!aligned) {
        roi_w = max(roi_w, 1.0);
        roi_h = max(roi_h, 1.0);
    }
    let bin_h = roi_h / f32(size);
    let bin_w = roi_w / f32(size);
    var grid_h = info[3];
    var grid_w = info[3];
    if (grid_h == 0u) {
        grid_h = u32(max(ceil(roi_h / f32(size)), 0.0));
        grid_w = u32(max(ceil(roi_w / f32(size)), 0.0));
    }
    let count = f32(max(grid_h * grid_w, 1u));

    var sums: array<f32, CHANNEL_BLOCK>;
    for (var iy = 0u; iy < grid_h; iy = iy + 1u) {
        var y = y0 + f32(py) * bin_h + (f32(iy) + 0.5) * bin_h / f32(grid_h);
        // torchvision's bilinear_interpolate: 0 further than one pixel
        // outside, clamped onto the border within it.
        if (y < -1.0 || y > f32(height)) {
            continue;
        }
        y = max(y, 0.0);
        var y_low = u32(y);
        var y_high = y_low + 1u;
        if (y_low >= height - 1u) {
            y_low = height - 1u;
            y_high = y_low;
            y = f32(y_low);
        }
        let ly = y - f32(y_low);
        let hy = 1.0 - ly;
        for (var ix = 0u; ix < grid_w; ix = ix + 1u) {
            var x = x0 + f32(px) * bin_w + (f32(ix) + 0.5) * bin_w / f32(grid_w);
            if (x < -1.0 || x > f32(width)) {
                continue;
            }
            x = max(x, 0.0);
            var x_low = u32(x);
            var x_high = x_low + 1u;
            if (x_low >= width - 1u) {
                x_low = width - 1u;
                x_high = x_low;
                x = f32(x_low);
            }
            let lx = x - f32(x_low);
            let hx = 1.0 - lx;
            let w1 = hy * hx;
            let w2 = hy * lx;
            let w3 = ly * hx;
            let w4 = ly * lx;
            let o1 = y_low * width + x_low;
            let o2 = y_low * width + x_high;
            let o3 = y_high * width + x_low;
            let o4 = y_high * width + x_high;
            // One loop per level: the level is fixed per thread, so the
            // branch is taken once per sample rather than per value.
            switch level {
                case 0u: {
                    for (var k = 0u; k < block_channels; k = k + 1u) {
                        let base = (first_channel + k) * plane;
                        sums[k] = sums[k] + w1 * level0[base + o1] + w2 * level0[base + o2]
                            + w3 * level0[base + o3] + w4 * level0[base + o4];
                    }
                }
                case 1u: {
                    for (var k = 0u; k < block_channels; k = k + 1u) {
                        let base = (first_channel + k) * plane;
                        sums[k] = sums[k] + w1 * level1[base + o1] + w2 * level1[base + o2]
                            + w3 * level1[base + o3] + w4 * level1[base + o4];
                    }
                }
                case 2u: {
                    for (var k = 0u; k < block_channels; k = k + 1u) {
                        let base = (first_channel + k) * plane;
                        sums[k] = sums[k] + w1 * level2[base + o1] + w2 * level2[base + o2]
                            + w3 * level2[base + o3] + w4 * level2[base + o4];
                    }
                }
                default: {
                    for (var k = 0u; k < block_channels; k = k + 1u) {
                        let base = (first_channel + k) * plane;
                        sums[k] = sums[k] + w1 * level3[base + o1] + w2 * level3[base + o2]
                            + w3 * level3[base + o3] + w4 * level3[base + o4];
                    }
                }
            }
        }
    }
    for (var k = 0u; k < block_channels; k = k + 1u) {
        pooled[((roi * channels + first_channel + k) * size + py) * size + px] = sums[k] / count;
    }
}
