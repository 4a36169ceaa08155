//! The size at which the models see a frame: a frame whose longest side
//! exceeds a limit is downscaled, aspect kept, for the models (SAM resizes
//! to 1024 px anyway; the confidence map and the masks are held at this
//! size), while the application keeps the full frame for display and
//! scales the results onto it (issue #6: "downscale large frames for the
//! models, keep results at full size").

/// (width, height) of a `width` x `height` frame scaled so that its
/// longest side is at most `max_side`; frames that fit keep their size,
/// and no side drops below 1.
pub fn fit_longest_side(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_side {
        return (width, height);
    }
    let scale = max_side as f64 / longest as f64;
    let side = |v: u32| ((v as f64 * scale).round() as u32).clamp(1, max_side);
    (side(width), side(height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_frames_shrink_to_the_limit_and_keep_their_aspect() {
        assert_eq!(fit_longest_side(1920, 1080, 2048), (1920, 1080));
        assert_eq!(fit_longest_side(2048, 10, 2048), (2048, 10));
        assert_eq!(fit_longest_side(4096, 2160, 2048), (2048, 1080));
        assert_eq!(fit_longest_side(3000, 16_000, 2048), (384, 2048));
        assert_eq!(fit_longest_side(16_384, 1, 2048), (2048, 1));
    }
}
