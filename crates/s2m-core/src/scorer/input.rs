//! The scorer's input: RGB scaled to [0, 1] and normalised with the ImageNet
//! mean and std (`Compose([ToTensor(), Normalize(image_mean, image_std)])`
//! in RPL's and PEBAL's test scripts), full resolution, one scale.

use burn::tensor::{Device, Tensor, TensorData};

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The network input `[1, 3, H, W]` of an RGB image given as `height` rows
/// of `width` interleaved `u8` triples.
pub fn image_to_input(rgb: &[u8], height: usize, width: usize, device: &Device) -> Tensor<4> {
    assert_eq!(
        rgb.len(),
        height * width * 3,
        "an RGB image of {height}x{width} has {} bytes, got {}",
        height * width * 3,
        rgb.len()
    );
    let values: Vec<f32> = rgb.iter().map(|&v| v as f32).collect();
    let image = Tensor::<3>::from_data(TensorData::new(values, [height, width, 3]), device)
        .permute([2, 0, 1])
        .div_scalar(255.0);
    let mean = Tensor::<1>::from_floats(IMAGENET_MEAN, device).reshape([3, 1, 1]);
    let std = Tensor::<1>::from_floats(IMAGENET_STD, device).reshape([3, 1, 1]);
    ((image - mean) / std).reshape([1, 3, height, width])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    #[test]
    fn pixels_are_scaled_then_normalised_per_channel() {
        // One row of two pixels: (0, 128, 255) and (255, 0, 51).
        let input = image_to_input(&[0, 128, 255, 255, 0, 51], 1, 2, &Device::flex());
        let n = |v: f32, c: usize| (v / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        let expected = vec![
            n(0.0, 0),
            n(255.0, 0),
            n(128.0, 1),
            n(0.0, 1),
            n(255.0, 2),
            n(51.0, 2),
        ];
        input.into_data().assert_approx_eq::<f32>(
            &TensorData::new(expected, [1, 3, 1, 2]),
            Tolerance::absolute(1e-5),
        );
    }
}
