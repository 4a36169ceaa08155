//! The anomaly head on SAM's embedding against
//! `tests/reference/embedding_head_reference.py` (the head in PyTorch,
//! float64, random weights, on a fixed random embedding of an 8 x 8 grid
//! for a 45 x 70 frame and a 128-pixel input): the weights go through the
//! real loader (a safetensors file of the head's tensors), then the logits
//! and the score map at the frame's size are compared.
//!
//! Tolerances: logits max abs error < 1e-4 (values of a few units, f32
//! against f64); score map (probabilities) max abs error < 1e-5. Plus the
//! errors that wrong or damaged weights give.

mod common;

use burn::tensor::Device;
use common::*;
use s2m_core::pipeline::ImageEmbedding;
use s2m_core::sam::transforms::ImageFrame;
use s2m_core::weights::{WeightsLoadError, load_embedding_head};
use safetensors::tensor::TensorView;

const HEAD_TENSORS: [&str; 12] = [
    "mean",
    "std",
    "probe.weight",
    "probe.bias",
    "reduce.weight",
    "reduce.bias",
    "context1.weight",
    "context1.bias",
    "context2.weight",
    "context2.bias",
    "output.weight",
    "output.bias",
];

const FIXTURE: &str = "embedding_head_parity.safetensors";

/// A weights file of the fixture's head tensors, `edit` applied to each.
fn head_file(edit: impl Fn(&str, &mut Vec<f32>)) -> Vec<u8> {
    let fixture = Fixture::open(FIXTURE);
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = HEAD_TENSORS
        .iter()
        .map(|name| {
            let (shape, mut values) = fixture.f32s(name);
            edit(name, &mut values);
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.to_string(), shape, bytes)
        })
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            let view = TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap();
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn logits_and_score_map_match_pytorch() {
    let fixture = Fixture::open(FIXTURE);
    let (_, frame) = fixture.f32s("frame");
    let [h, w, rh, rw, input] = frame[..] else {
        panic!("frame: {frame:?}")
    };
    let (_, expected_logits) = fixture.f32s("logits");
    let (_, expected_map) = fixture.f32s("score_map");
    for (backend, device) in devices() {
        let head = load_embedding_head(head_file(|_, _| {}), "head.safetensors", &device).unwrap();
        let image = ImageEmbedding {
            embedding: fixture.tensor::<4>("embedding", &device),
            frame: ImageFrame::new((h as usize, w as usize), input as usize),
        };
        assert_eq!(
            image.frame.resized,
            (rh as usize, rw as usize),
            "SAM's resize"
        );
        let logits = to_vec(head.forward(image.embedding.clone()));
        let error = max_abs_diff(&logits, &expected_logits);
        assert!(error < 1e-4, "{backend}: logits max abs error {error}");
        let map = to_vec(head.score_map(&image));
        let error = max_abs_diff(&map, &expected_map);
        assert!(error < 1e-5, "{backend}: score map max abs error {error}");
    }
}

#[test]
fn damaged_or_foreign_weights_are_refused_with_the_reason() {
    let device = Device::flex();
    let zero_std = head_file(|name, values| {
        if name == "std" {
            values[7] = 0.0;
        }
    });
    let error = load_embedding_head(zero_std, "h.safetensors", &device).unwrap_err();
    assert!(
        matches!(error, WeightsLoadError::BadTensor { ref tensor, .. } if tensor == "std"),
        "{error}"
    );

    let nan = head_file(|name, values| {
        if name == "context1.weight" {
            values[0] = f32::NAN;
        }
    });
    let error = load_embedding_head(nan, "h.safetensors", &device).unwrap_err();
    assert!(error.to_string().contains("context1.weight"), "{error}");

    let mut truncated = head_file(|_, _| {});
    truncated.truncate(truncated.len() / 2);
    let error = load_embedding_head(truncated, "h.safetensors", &device).unwrap_err();
    assert!(
        matches!(error, WeightsLoadError::Unreadable { .. }),
        "{error}"
    );

    // The whole fixture holds more than a head: not head weights.
    let foreign = std::fs::read(fixture_path(FIXTURE)).unwrap();
    let error = load_embedding_head(foreign, "fixture.safetensors", &device).unwrap_err();
    assert!(
        matches!(error, WeightsLoadError::NotAnEmbeddingHead { .. }),
        "{error}"
    );
}
