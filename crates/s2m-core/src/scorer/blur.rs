//! The Gaussian smoothing RPL and PEBAL apply to every score map:
//! `torchvision.transforms.GaussianBlur(7, sigma=1)`, whose tensor path
//! (`_functional_tensor.gaussian_blur`) pads by 3 with `reflect` (mirror
//! without repeating the edge pixel) and convolves with the outer product
//! of the normalised 1-D kernel `exp(-x^2 / 2)`, x = -3..3.
//!
//! Here the 2-D convolution runs as two 1-D passes (the kernel is
//! separable; same sums in another order). Deviation: reflect padding needs
//! a side of at least 4 pixels, and torchvision fails on smaller maps; we
//! replicate the edge pixels instead along such a side.

use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Tensor, TensorData};

/// Kernel size of the reference blur.
pub const KERNEL_SIZE: usize = 7;
/// Standard deviation of the reference blur, in pixels.
pub const SIGMA: f64 = 1.0;

/// The normalised 1-D Gaussian of [`KERNEL_SIZE`] taps and [`SIGMA`].
pub fn gaussian_kernel() -> [f32; KERNEL_SIZE] {
    let half = (KERNEL_SIZE / 2) as f64;
    let pdf: [f64; KERNEL_SIZE] =
        std::array::from_fn(|i| (-0.5 * ((i as f64 - half) / SIGMA).powi(2)).exp());
    let sum: f64 = pdf.iter().sum();
    pdf.map(|v| (v / sum) as f32)
}

/// Blurs each map of `maps` `[B, H, W]`.
pub fn gaussian_blur(maps: Tensor<3>) -> Tensor<3> {
    let [b, h, w] = maps.dims();
    let device = maps.device();
    let pad = KERNEL_SIZE / 2;
    let mode = |side: usize| {
        if side > pad {
            PadMode::Reflect
        } else {
            PadMode::Edge
        }
    };
    let x = maps
        .reshape([b, 1, h, w])
        .pad([(pad, pad), (0, 0)], mode(h))
        .pad([(0, 0), (pad, pad)], mode(w));
    let kernel = TensorData::new(gaussian_kernel().to_vec(), [1, 1, KERNEL_SIZE, 1]);
    let vertical = Tensor::<4>::from_data(kernel, &device);
    let horizontal = vertical.clone().reshape([1, 1, 1, KERNEL_SIZE]);
    let options = || ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    let x = conv2d(x, vertical, None, options());
    conv2d(x, horizontal, None, options()).reshape([b, h, w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Tolerance};

    fn map(values: Vec<f32>, h: usize, w: usize) -> Tensor<3> {
        Tensor::from_data(TensorData::new(values, [1, h, w]), &Device::flex())
    }

    #[test]
    fn the_kernel_is_torchvisions() {
        let k = gaussian_kernel();
        // torchvision _get_gaussian_kernel1d(7, 1.0) in float64.
        let expected = [
            0.004433048175243746,
            0.05400558262241449,
            0.24203622937611433,
            0.3990502796524549,
            0.24203622937611433,
            0.05400558262241449,
            0.004433048175243746,
        ];
        for (a, b) in k.iter().zip(expected) {
            assert!((*a as f64 - b).abs() < 1e-7, "{a} vs {b}");
        }
    }

    #[test]
    fn a_constant_map_stays_constant() {
        for (h, w) in [(9, 12), (2, 5)] {
            let blurred = gaussian_blur(map(vec![-3.25; h * w], h, w));
            blurred.into_data().assert_approx_eq::<f32>(
                &TensorData::new(vec![-3.25f32; h * w], [1, h, w]),
                Tolerance::absolute(1e-5),
            );
        }
    }

    #[test]
    fn an_impulse_gives_the_normalised_gaussian() {
        let (h, w) = (11, 13);
        let mut values = vec![0.0f32; h * w];
        values[5 * w + 6] = 1.0;
        let blurred = gaussian_blur(map(values, h, w))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let k = gaussian_kernel();
        let mut total = 0.0;
        for y in 0..h {
            for x in 0..w {
                let (dy, dx) = (y as i64 - 5, x as i64 - 6);
                let expected = if dy.abs() <= 3 && dx.abs() <= 3 {
                    k[(dy + 3) as usize] * k[(dx + 3) as usize]
                } else {
                    0.0
                };
                assert!((blurred[y * w + x] - expected).abs() < 1e-7, "({y}, {x})");
                total += blurred[y * w + x];
            }
        }
        assert!((total - 1.0).abs() < 1e-6);
    }

    #[test]
    fn borders_reflect_without_repeating_the_edge() {
        // An impulse at (0, 1): reflect padding mirrors it to column -1 (not
        // the edge pixel, column 0, as replicate would), so pixel (0, 0)
        // sees it at offsets +1 and -1; zero or edge padding see it once.
        let (h, w) = (8, 8);
        let mut values = vec![0.0f32; h * w];
        values[1] = 1.0;
        let blurred = gaussian_blur(map(values, h, w))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let k = gaussian_kernel();
        assert!(
            (blurred[0] - 2.0 * k[3] * k[4]).abs() < 1e-7,
            "{}",
            blurred[0]
        );
        assert!(
            (blurred[1] - k[3] * (k[3] + k[1])).abs() < 1e-7,
            "{}",
            blurred[1]
        );
    }
}
