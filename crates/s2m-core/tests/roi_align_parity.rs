//! Multi-level ROI-align against torchvision's `roi_align(aligned=True,
//! sampling_ratio=0)` as detectron2's `ROIPooler` calls it
//! (`tests/reference/detector_reference.py` -> `roi_align.safetensors`):
//! 40 boxes over four levels of a 70x90 image, including boxes on the
//! borders, zero-size boxes, boxes outside the map, sub-pixel and elongated
//! boxes; the tensor ops on every device, our WGSL kernel on wgpu.
//! Tolerance: max abs error < 1e-5.

mod common;

use burn::tensor::{Tensor, TensorData};
use common::*;
use s2m_core::detector::poolers::fpn_level;
use s2m_core::detector::roi_align::{RoiAlignParams, multi_level_roi_align};

const STRIDES: [usize; 4] = [4, 8, 16, 32];

#[test]
fn tensor_op_roi_align_matches_torchvision() {
    let fx = Fixture::open("roi_align.safetensors");
    let boxes: Vec<[f32; 4]> = fx
        .f32s("boxes")
        .1
        .chunks_exact(4)
        .map(|b| [b[0], b[1], b[2], b[3]])
        .collect();
    let levels: Vec<usize> = boxes.iter().map(|b| fpn_level(b, 2, 5) - 2).collect();
    let expected_levels: Vec<usize> = fx.i64s("levels").iter().map(|&l| l as usize).collect();
    assert_eq!(levels, expected_levels, "level assignment");
    let (pooled_shape, expected) = fx.f32s("pooled");
    let params = RoiAlignParams {
        output_size: 7,
        sampling_ratio: 0,
        aligned: true,
    };
    for (backend, device) in devices() {
        let features: Vec<Tensor<4>> = (2..=5)
            .map(|l| {
                let (shape, values) = fx.f32s(&format!("features_p{l}"));
                Tensor::from_data(TensorData::new(values, shape), &device)
            })
            .collect();
        let tensor_ops = multi_level_roi_align(&features, &STRIDES, &boxes, &levels, &params);
        let kernel = s2m_kernels::roi_align::multi_level_roi_align(
            &features, &STRIDES, &boxes, &levels, &params,
        );
        for (what, pooled) in [("tensor ops", Some(tensor_ops)), ("WGSL kernel", kernel)] {
            let Some(pooled) = pooled else { continue };
            assert_eq!(pooled.dims().to_vec(), pooled_shape);
            let actual = pooled.into_data().try_to_vec::<f32>().unwrap();
            let error = max_abs_diff(&actual, &expected);
            eprintln!("{backend:?} {what}: max abs error {error:.1e}");
            assert!(
                error < 1e-5,
                "{backend:?} {what}: max abs error {error:.1e}"
            );
        }
    }
}

#[test]
fn no_boxes_give_an_empty_result() {
    let device = burn::tensor::Device::flex();
    let features: Vec<Tensor<4>> = [(18, 23), (9, 12), (5, 6), (3, 3)]
        .iter()
        .map(|&(h, w)| Tensor::zeros([1, 5, h, w], &device))
        .collect();
    let params = RoiAlignParams {
        output_size: 7,
        sampling_ratio: 0,
        aligned: true,
    };
    let pooled = multi_level_roi_align(&features, &STRIDES, &[], &[], &params);
    assert_eq!(pooled.dims(), [0, 5, 7, 7]);
}

/// A deterministic pseudo-random value in [-1, 1) (splitmix64).
fn random(seed: u64) -> f32 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

/// Our WGSL kernel against the tensor-op implementation on random features
/// of a 200x300 image and 300 random boxes, plus boxes on the borders,
/// zero-size boxes and boxes outside the map. Max abs error < 1e-5.
#[test]
fn wgsl_kernel_matches_the_tensor_ops() {
    let Some((_, device)) = devices()
        .into_iter()
        .find(|(backend, _)| *backend == s2m_core::device::Backend::Wgpu)
    else {
        return;
    };
    let (height, width, channels) = (200usize, 300usize, 16usize);
    let mut seed = 0u64;
    let mut next = || {
        seed += 1;
        random(seed)
    };
    let features: Vec<Tensor<4>> = STRIDES
        .iter()
        .map(|&s| {
            let (h, w) = (height.div_ceil(s), width.div_ceil(s));
            let values: Vec<f32> = (0..channels * h * w).map(|_| next()).collect();
            Tensor::from_data(TensorData::new(values, [1, channels, h, w]), &device)
        })
        .collect();
    let mut boxes: Vec<[f32; 4]> = (0..300)
        .map(|_| {
            let (cx, cy) = ((next() + 1.0) * 160.0 - 10.0, (next() + 1.0) * 110.0 - 10.0);
            let (w, h) = ((next() + 1.0).powi(3) * 60.0, (next() + 1.0).powi(3) * 60.0);
            [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
        })
        .collect();
    boxes.extend([
        [0.0, 0.0, 300.0, 200.0],
        [280.0, 190.0, 300.0, 200.0],
        [0.0, 0.0, 0.0, 0.0],
        [50.0, 60.0, 50.0, 90.0],
        [-400.0, -300.0, -350.0, -250.0],
        [350.0, 250.0, 900.0, 700.0],
        [10.2, 10.4, 10.3, 10.5],
        [0.0, 100.0, 300.0, 101.0],
    ]);
    let levels: Vec<usize> = boxes.iter().map(|b| fpn_level(b, 2, 5) - 2).collect();
    for sampling_ratio in [0, 2] {
        let params = RoiAlignParams {
            output_size: 7,
            sampling_ratio,
            aligned: true,
        };
        let kernel = s2m_kernels::roi_align::multi_level_roi_align(
            &features, &STRIDES, &boxes, &levels, &params,
        )
        .expect("the kernel runs on wgpu");
        let oracle = multi_level_roi_align(&features, &STRIDES, &boxes, &levels, &params);
        let kernel = kernel.into_data().try_to_vec::<f32>().unwrap();
        let oracle = oracle.into_data().try_to_vec::<f32>().unwrap();
        let error = max_abs_diff(&kernel, &oracle);
        eprintln!(
            "sampling ratio {sampling_ratio}: kernel vs tensor ops max abs error {error:.1e}"
        );
        assert!(error < 1e-5, "sampling ratio {sampling_ratio}: {error:.1e}");
    }
}

#[test]
fn the_kernel_declines_cpu_tensors() {
    let device = burn::tensor::Device::flex();
    let features: Vec<Tensor<4>> = (0..4)
        .map(|_| Tensor::zeros([1, 2, 4, 4], &device))
        .collect();
    let params = RoiAlignParams {
        output_size: 7,
        sampling_ratio: 0,
        aligned: true,
    };
    let boxes = [[0.0, 0.0, 8.0, 8.0]];
    assert!(
        s2m_kernels::roi_align::multi_level_roi_align(&features, &STRIDES, &boxes, &[0], &params)
            .is_none()
    );
}
