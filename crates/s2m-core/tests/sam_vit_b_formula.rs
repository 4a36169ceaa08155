//! Full-size SAM ViT-B parity (issue #2): the official PyTorch ViT-B and
//! ours, both with weights from the same formula (no checkpoint is
//! fetched or committed), on `tests/fixtures/road_1024x576.png` with one
//! box. The formula and the reference are in
//! `tests/reference/sam_vit_b_formula.py`. Tolerances: embedding relative
//! L2 < 1e-4 (every 4th channel is stored), mask logits < 1e-3.
//!
//! On every backend: global attention runs in chunks of query rows
//! (`nn::query_chunked_attention`), so lavapipe never has to allocate the
//! whole 805 MB score matrix of a ViT-B global block.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use s2m_core::device::Backend;
use s2m_core::sam::{Prompts, SamConfig};
use s2m_core::weights::load_sam;
use s2m_weights::StorageDType;
use s2m_weights::checkpoint::NamedTensor;
use s2m_weights::convert::to_safetensors_bytes;
use s2m_weights::key_map::official_to_ours;

fn fnv1a64(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Element `k` of the tensor `name`, uniform in [-1, 1) (splitmix64).
fn uniform(seed: u64, k: u64) -> f64 {
    let mut x = k.wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 * 2f64.powi(-53) * 2.0 - 1.0
}

fn formula(name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let seed = fnv1a64(name);
    let fan_in: usize = shape[1..].iter().product();
    (0..n as u64)
        .map(|k| {
            let u = uniform(seed, k);
            let v = if name.ends_with(".bias") {
                0.02 * u
            } else if shape.len() == 1 {
                1.0 + 0.1 * u
            } else {
                (3.0 / fan_in as f64).sqrt() * u
            };
            v as f32
        })
        .collect()
}

#[test]
fn full_size_vit_b_matches_pytorch_on_formula_weights() {
    let shapes: Vec<(String, Vec<usize>)> =
        serde_json::from_slice(&std::fs::read(fixture_path("sam_vit_b_shapes.json")).unwrap())
            .unwrap();
    let tensors: Vec<NamedTensor> = shapes
        .iter()
        .filter_map(|(name, shape)| {
            official_to_ours(name).map(|ours| NamedTensor {
                name: ours,
                shape: shape.clone(),
                data: formula(name, shape),
            })
        })
        .collect();
    let bytes = to_safetensors_bytes(&tensors, StorageDType::F32).unwrap();
    drop(tensors);
    let img = image::open(fixture_path("road_1024x576.png"))
        .unwrap()
        .to_rgb8();
    let pixels: Vec<f32> = img.into_raw().into_iter().map(f32::from).collect();
    let fx = Fixture::open("sam_vit_b_formula.safetensors");
    for (backend, device) in devices() {
        check_backend(backend, &device, bytes.clone(), pixels.clone(), &fx);
    }
}

fn check_backend(
    backend: Backend,
    device: &Device,
    bytes: Vec<u8>,
    pixels: Vec<f32>,
    fx: &Fixture,
) {
    let sam = load_sam(&SamConfig::vit_b(), bytes, "sam_vit_b (formula)", device).unwrap();
    let image = Tensor::<3>::from_data(TensorData::new(pixels, [576, 1024, 3]), device);
    let (input, _) = sam.preprocess(image);
    let embedding = sam.embed(input);
    let every_4th: Vec<f32> = to_vec(embedding.clone())
        .chunks_exact(64 * 64)
        .step_by(4)
        .flatten()
        .copied()
        .collect();
    let err = relative_l2(&every_4th, &fx.f32s("image_embedding_every_4th_channel").1);
    eprintln!("{backend}: embedding relative L2 {err:e}");
    assert!(err < 1e-4, "{backend}: embedding relative L2 {err:e}");

    let out = sam.decode(embedding, &Prompts::Boxes(fx.tensor("box", device)), false);
    let err = relative_l2(
        &to_vec(out.low_res_logits),
        &fx.f32s("box_low_res_logits").1,
    );
    eprintln!("{backend}: box logits relative L2 {err:e}");
    assert!(err < 1e-3, "{backend}: box logits relative L2 {err:e}");
    let err = max_abs_diff(&to_vec(out.iou), &fx.f32s("box_iou").1);
    assert!(err < 1e-3, "{backend}: iou max abs {err:e}");
}
