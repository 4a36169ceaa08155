//! Helpers shared by the CLI tests: fixtures, scratch directories and the
//! check that a failure is a message, not a panic.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Directory of the converted weights (`cargo xtask weights` fills it).
pub fn weights_dir() -> PathBuf {
    std::env::var_os("S2M_WEIGHTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("weights"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("s2m-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asserts a clean failure: non-zero exit, no panic, a message naming `needle`.
pub fn assert_fails_with(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "expected failure, stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
}

/// The reference score map of `detector_parity.safetensors` and the tiny
/// R50 generator's detections on it.
pub struct Reference {
    pub height: usize,
    pub width: usize,
    pub map: Vec<f32>,
    pub boxes: Vec<[f32; 4]>,
    pub scores: Vec<f32>,
    pub classes: Vec<i64>,
}

pub fn reference() -> Reference {
    let bytes = std::fs::read(fixture("detector_parity.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |key: &str| -> (Vec<usize>, Vec<f32>) {
        let view = st.tensor(key).unwrap();
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{key}");
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (view.shape().to_vec(), values)
    };
    let (shape, map) = f32s("r50.score_map");
    let classes = st.tensor("r50.classes").unwrap();
    assert_eq!(classes.dtype(), safetensors::Dtype::I64);
    Reference {
        height: shape[0],
        width: shape[1],
        map,
        boxes: f32s("r50.boxes")
            .1
            .chunks_exact(4)
            .map(|b| [b[0], b[1], b[2], b[3]])
            .collect(),
        scores: f32s("r50.scores").1,
        classes: classes
            .data()
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
    }
}

/// A version 1 `.npy` file as `np.save` writes it.
pub fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

pub fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `s2m segment ARGS... --generator <tiny R50 fixture> --weights-dir W --out OUT`,
/// with `--scorer file` (maps beside the images) unless ARGS name a scorer.
#[allow(dead_code)] // not every test binary segments
pub fn segment_with_tiny_generator(args: &[&std::ffi::OsStr], out: &Path) -> Output {
    let scorer_named = args.iter().any(|a| *a == "--scorer");
    Command::new(env!("CARGO_BIN_EXE_s2m"))
        .arg("segment")
        .args(args)
        .args(if scorer_named {
            &[][..]
        } else {
            &["--scorer", "file"][..]
        })
        .arg("--generator")
        .arg(fixture("detector_r50_tiny.pth"))
        .arg("--weights-dir")
        .arg(weights_dir())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}
