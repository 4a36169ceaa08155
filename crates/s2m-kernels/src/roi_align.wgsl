// Multi-level ROI-align (torchvision `roi_align` semantics, as detectron2's
// ROIAlignV2 uses it): one thread per output value [box, channel, py, px];
// each box reads the FPN level the host assigned to it.
//
// info layout (u32 words):
//   0 channels, 1 boxes, 2 output size, 3 sampling ratio (0 = adaptive),
//   4 aligned (0/1), 5 total outputs, 6..7 unused,
//   8 + 4 l: height, width, bits of 1 / stride of level l (l = 0..3),
//   24 + r: level of box r.

@group(0) @binding(0) var<storage, read_write> level0: array<f32>;
@group(0) @binding(1) var<storage, read_write> level1: array<f32>;
@group(0) @binding(2) var<storage, read_write> level2: array<f32>;
@group(0) @binding(3) var<storage, read_write> level3: array<f32>;
@group(0) @binding(4) var<storage, read_write> rois: array<f32>;
@group(0) @binding(5) var<storage, read_write> info: array<u32>;
@group(0) @binding(6) var<storage, read_write> pooled: array<f32>;

fn feature(level: u32, i: u32) -> f32 {
    switch level {
        case 0u: { return level0[i]; }
        case 1u: { return level1[i]; }
        case 2u: { return level2[i]; }
        default: { return level3[i]; }
    }
}

// torchvision's bilinear_interpolate: 0 further than one pixel outside,
// clamped onto the border within it.
fn bilinear(level: u32, base: u32, height: u32, width: u32, y_in: f32, x_in: f32) -> f32 {
    if (y_in < -1.0 || y_in > f32(height) || x_in < -1.0 || x_in > f32(width)) {
        return 0.0;
    }
    var y = max(y_in, 0.0);
    var x = max(x_in, 0.0);
    var y_low = u32(y);
    var x_low = u32(x);
    var y_high = y_low + 1u;
    var x_high = x_low + 1u;
    if (y_low >= height - 1u) {
        y_low = height - 1u;
        y_high = y_low;
        y = f32(y_low);
    }
    if (x_low >= width - 1u) {
        x_low = width - 1u;
        x_high = x_low;
        x = f32(x_low);
    }
    let ly = y - f32(y_low);
    let lx = x - f32(x_low);
    let hy = 1.0 - ly;
    let hx = 1.0 - lx;
    return hy * hx * feature(level, base + y_low * width + x_low)
        + hy * lx * feature(level, base + y_low * width + x_high)
        + ly * hx * feature(level, base + y_high * width + x_low)
        + ly * lx * feature(level, base + y_high * width + x_high);
}

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
    let px = index % size;
    let py = (index / size) % size;
    let channel = (index / (size * size)) % channels;
    let roi = index / (size * size * channels);

    let level = min(info[24u + roi], 3u);
    let height = info[8u + 4u * level];
    let width = info[9u + 4u * level];
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
    let count = max(grid_h * grid_w, 1u);

    let base = channel * height * width;
    var sum = 0.0;
    for (var iy = 0u; iy < grid_h; iy = iy + 1u) {
        let y = y0 + f32(py) * bin_h + (f32(iy) + 0.5) * bin_h / f32(grid_h);
        for (var ix = 0u; ix < grid_w; ix = ix + 1u) {
            let x = x0 + f32(px) * bin_w + (f32(ix) + 0.5) * bin_w / f32(grid_w);
            sum = sum + bilinear(level, base, height, width, y, x);
        }
    }
    pooled[index] = sum / f32(count);
}
