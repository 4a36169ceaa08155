//! Multi-level ROI-align against torchvision's `roi_align(aligned=True,
//! sampling_ratio=0)` as detectron2's `ROIPooler` calls it
//! (`tests/reference/detector_reference.py` -> `roi_align.safetensors`):
//! 40 boxes over four levels of a 70x90 image, including boxes on the
//! borders, zero-size boxes, boxes outside the map, sub-pixel and elongated
//! boxes. Tolerance: max abs error < 1e-5.

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
        let pooled = multi_level_roi_align(&features, &STRIDES, &boxes, &levels, &params);
        assert_eq!(pooled.dims().to_vec(), pooled_shape);
        let actual = pooled.into_data().try_to_vec::<f32>().unwrap();
        let error = max_abs_diff(&actual, &expected);
        eprintln!("{backend:?}: max abs error {error:.1e}");
        assert!(error < 1e-5, "{backend:?}: max abs error {error:.1e}");
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
