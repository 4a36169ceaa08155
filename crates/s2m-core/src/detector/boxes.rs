//! Host-side helpers on XYXY boxes, as detectron2's `structures/boxes.py`.

/// An axis-aligned box `[x0, y0, x1, y1]` in pixels.
pub type Xyxy = [f32; 4];

/// Clamps a box into an image of `height x width` (`Boxes.clip`):
/// x into `[0, width]`, y into `[0, height]`.
pub fn clip(b: Xyxy, height: usize, width: usize) -> Xyxy {
    let (w, h) = (width as f32, height as f32);
    [
        b[0].clamp(0.0, w),
        b[1].clamp(0.0, h),
        b[2].clamp(0.0, w),
        b[3].clamp(0.0, h),
    ]
}

/// Whether both sides are longer than `threshold` (`Boxes.nonempty`).
pub fn is_nonempty(b: &Xyxy, threshold: f32) -> bool {
    b[2] - b[0] > threshold && b[3] - b[1] > threshold
}

/// Whether every coordinate is finite.
pub fn is_finite(b: &Xyxy) -> bool {
    b.iter().all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_boxes_inside_the_image() {
        assert_eq!(
            clip([-5.0, 3.0, 120.0, 90.0], 80, 100),
            [0.0, 3.0, 100.0, 80.0]
        );
        assert!(!is_nonempty(&clip([110.0, 3.0, 120.0, 9.0], 80, 100), 0.0));
        assert!(is_nonempty(&[0.0, 0.0, 0.5, 0.5], 0.0));
        assert!(!is_finite(&[0.0, f32::NAN, 1.0, 1.0]));
    }
}
