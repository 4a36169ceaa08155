//! Helpers shared by the integration tests: fixtures, devices, metrics.

#![allow(dead_code)]

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use s2m_core::device::{Backend, open_device};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture_path(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// Directory of the converted weights (`cargo xtask weights` fills it).
pub fn weights_dir() -> PathBuf {
    std::env::var_os("S2M_WEIGHTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("weights"))
}

/// Bytes of a converted weights file; fails with the command that makes it.
pub fn weights_bytes(name: &str) -> Vec<u8> {
    let path = weights_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo xtask weights` (or `cargo xtask test`) first",
            path.display()
        )
    })
}

/// The devices a parity test runs on: the CPU always, wgpu when an adapter
/// exists. With `S2M_REQUIRE_WGPU=1` (set by `cargo xtask test`) a missing
/// adapter fails the test instead of skipping the wgpu half.
pub fn devices() -> Vec<(Backend, Device)> {
    let mut devices = vec![(Backend::Cpu, open_device(Backend::Cpu).unwrap())];
    match open_device(Backend::Wgpu) {
        Ok(device) => devices.push((Backend::Wgpu, device)),
        Err(e) if std::env::var_os("S2M_REQUIRE_WGPU").is_some() => panic!("{e}"),
        Err(e) => eprintln!("skipping the wgpu backend: {e}"),
    }
    devices
}

/// Tensors of a safetensors fixture.
pub struct Fixture {
    bytes: Vec<u8>,
    name: String,
}

impl Fixture {
    pub fn open(name: &str) -> Self {
        let path = fixture_path(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self {
            bytes,
            name: name.to_owned(),
        }
    }

    fn view(&self, key: &str) -> (safetensors::Dtype, Vec<usize>, Vec<u8>) {
        let st = safetensors::SafeTensors::deserialize(&self.bytes).unwrap();
        let view = st
            .tensor(key)
            .unwrap_or_else(|e| panic!("{}: no `{key}`: {e}", self.name));
        (view.dtype(), view.shape().to_vec(), view.data().to_vec())
    }

    pub fn f32s(&self, key: &str) -> (Vec<usize>, Vec<f32>) {
        let (dtype, shape, data) = self.view(key);
        assert_eq!(dtype, safetensors::Dtype::F32, "{key}");
        let values = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (shape, values)
    }

    pub fn i64s(&self, key: &str) -> Vec<i64> {
        let (dtype, _, data) = self.view(key);
        assert_eq!(dtype, safetensors::Dtype::I64, "{key}");
        data.chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    pub fn u8s(&self, key: &str) -> (Vec<usize>, Vec<u8>) {
        let (dtype, shape, data) = self.view(key);
        assert_eq!(dtype, safetensors::Dtype::U8, "{key}");
        (shape, data)
    }

    pub fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = self.f32s(key);
        assert_eq!(shape.len(), D, "{key} has rank {}", shape.len());
        Tensor::from_data(TensorData::new(values, shape), device)
    }
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// ‖a − b‖₂ / ‖b‖₂.
pub fn relative_l2(actual: &[f32], expected: &[f32]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "length mismatch");
    let diff: f64 = actual
        .iter()
        .zip(expected)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum();
    let norm: f64 = expected.iter().map(|b| (*b as f64).powi(2)).sum();
    (diff / norm.max(1e-30)).sqrt()
}

pub fn max_abs_diff(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len(), "length mismatch");
    actual
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Intersection over union of two binary masks.
pub fn iou(a: &[bool], b: &[bool]) -> f64 {
    assert_eq!(a.len(), b.len());
    let inter = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let union = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}
