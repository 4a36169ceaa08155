//! Anchor generation as detectron2's `DefaultAnchorGenerator`: per level,
//! cell anchors of area `size²` for each aspect ratio `h / w` centred on 0
//! (not rounded, unlike torchvision), shifted to every cell of the feature
//! grid at `stride * (i + offset)`. Order: grid cells row-major (y, then x),
//! then the cell anchors (sizes, then aspect ratios).

/// `[x0, y0, x1, y1]` anchors centred on the origin for one size.
pub fn cell_anchors(size: f32, aspect_ratios: &[f32]) -> Vec<[f32; 4]> {
    let area = (size as f64).powi(2);
    aspect_ratios
        .iter()
        .map(|&r| {
            let w = (area / r as f64).sqrt();
            let h = r as f64 * w;
            [
                (-w / 2.0) as f32,
                (-h / 2.0) as f32,
                (w / 2.0) as f32,
                (h / 2.0) as f32,
            ]
        })
        .collect()
}

/// All anchors of a `grid_h x grid_w` feature map with the given stride.
pub fn grid_anchors(
    grid_h: usize,
    grid_w: usize,
    stride: usize,
    offset: f32,
    cell: &[[f32; 4]],
) -> Vec<[f32; 4]> {
    let mut anchors = Vec::with_capacity(grid_h * grid_w * cell.len());
    for y in 0..grid_h {
        let sy = (y as f32 + offset) * stride as f32;
        for x in 0..grid_w {
            let sx = (x as f32 + offset) * stride as f32;
            anchors.extend(
                cell.iter()
                    .map(|a| [a[0] + sx, a[1] + sy, a[2] + sx, a[3] + sy]),
            );
        }
    }
    anchors
}

/// The anchor at flat index `index` of the order of [`grid_anchors`],
/// without building the others.
pub fn anchor_at(
    index: usize,
    grid_w: usize,
    stride: usize,
    offset: f32,
    cell: &[[f32; 4]],
) -> [f32; 4] {
    let a = cell[index % cell.len()];
    let position = index / cell.len();
    let sx = ((position % grid_w) as f32 + offset) * stride as f32;
    let sy = ((position / grid_w) as f32 + offset) * stride as f32;
    [a[0] + sx, a[1] + sy, a[2] + sx, a[3] + sy]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_anchors_keep_the_area_and_the_ratio() {
        let cell = cell_anchors(32.0, &[0.5, 1.0, 2.0]);
        // r = 0.5: w = sqrt(1024 / 0.5) = 45.2548, h = 22.6274.
        assert!((cell[0][2] - 22.627417).abs() < 1e-4 && (cell[0][3] - 11.313708).abs() < 1e-4);
        assert_eq!(cell[1], [-16.0, -16.0, 16.0, 16.0]);
        for (a, r) in cell.iter().zip([0.5f32, 1.0, 2.0]) {
            let (w, h) = (a[2] - a[0], a[3] - a[1]);
            assert!((w * h - 1024.0).abs() < 1e-2 && (h / w - r).abs() < 1e-5);
        }
    }

    #[test]
    fn grid_anchors_are_row_major_with_cell_anchors_innermost() {
        let cell = cell_anchors(32.0, &[1.0, 2.0]);
        let anchors = grid_anchors(2, 3, 4, 0.0, &cell);
        assert_eq!(anchors.len(), 2 * 3 * 2);
        assert_eq!(anchors[0], [-16.0, -16.0, 16.0, 16.0]);
        // Cell (y = 0, x = 1), first cell anchor: shifted by 4 in x.
        assert_eq!(anchors[2], [-12.0, -16.0, 20.0, 16.0]);
        // Cell (y = 1, x = 0): shifted by 4 in y.
        assert_eq!(anchors[6], [-16.0, -12.0, 16.0, 20.0]);
    }

    #[test]
    fn anchor_at_matches_the_grid_order() {
        let cell = cell_anchors(64.0, &[0.5, 1.0, 2.0]);
        let anchors = grid_anchors(3, 5, 8, 0.0, &cell);
        for (i, anchor) in anchors.iter().enumerate() {
            assert_eq!(anchor_at(i, 5, 8, 0.0, &cell), *anchor, "index {i}");
        }
    }
}
