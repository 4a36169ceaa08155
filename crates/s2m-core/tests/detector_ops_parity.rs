//! The prompt generator's box operations against torchvision (fixture from
//! `tests/reference/detector_ops_reference.py`): NMS at the RPN's 0.7 and
//! per-class NMS at the test-time 0.5 keep exactly the same boxes in the
//! same order; decoded deltas (weights 10,10,5,5, clamped) within 1e-3 px.

mod common;

use common::*;
use s2m_core::detector::box_coder::apply_deltas;
use s2m_core::detector::nms::{batched_nms, nms};

fn boxes(values: &[f32]) -> Vec<[f32; 4]> {
    values
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect()
}

#[test]
fn nms_keeps_what_torchvision_keeps() {
    let fx = Fixture::open("detector_ops.safetensors");
    let b = boxes(&fx.f32s("boxes").1);
    let scores = fx.f32s("scores").1;
    let classes: Vec<usize> = fx.i64s("classes").into_iter().map(|c| c as usize).collect();
    let expected: Vec<usize> = fx
        .i64s("keep_nms_0_7")
        .into_iter()
        .map(|i| i as usize)
        .collect();
    assert_eq!(nms(&b, &scores, 0.7), expected);
    let expected: Vec<usize> = fx
        .i64s("keep_batched_nms_0_5")
        .into_iter()
        .map(|i| i as usize)
        .collect();
    assert_eq!(batched_nms(&b, &scores, &classes, 0.5), expected);
}

#[test]
fn deltas_decode_as_torchvision_on_every_backend() {
    let fx = Fixture::open("detector_ops.safetensors");
    for (backend, device) in devices() {
        let decoded = apply_deltas(
            fx.tensor("deltas", &device),
            fx.tensor("boxes", &device),
            [10.0, 10.0, 5.0, 5.0],
        );
        let err = max_abs_diff(&to_vec(decoded), &fx.f32s("decoded").1);
        assert!(err < 1e-3, "{backend}: max abs {err} px");
    }
}
