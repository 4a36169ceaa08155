//! Bringing score maps and label images onto the models' frame before
//! they are compared (the metrics themselves are s2m-eval's).

/// `values` (`from` = (height, width), row-major) resampled to `to` by the
/// nearest pixel centre: score maps and label images onto the model's
/// frame.
pub fn resample_nearest<T: Copy>(values: &[T], from: (usize, usize), to: (usize, usize)) -> Vec<T> {
    let (fh, fw) = from;
    let (th, tw) = to;
    let source = |t: usize, f: usize, n: usize| {
        (((t as f64 + 0.5) * f as f64 / n as f64) as usize).min(f - 1)
    };
    (0..th)
        .flat_map(|y| {
            let sy = source(y, fh, th);
            (0..tw).map(move |x| values[sy * fw + source(x, fw, tw)])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_resampling_keeps_blocks() {
        let values = [1, 2, 3, 4];
        assert_eq!(
            resample_nearest(&values, (2, 2), (4, 4)),
            [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]
        );
        assert_eq!(resample_nearest(&values, (2, 2), (1, 1)), [4]);
    }
}
