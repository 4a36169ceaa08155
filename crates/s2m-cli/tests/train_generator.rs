//! `s2m train-generator` on synthesised maps end to end (issue #4): a few
//! iterations on small maps, the score threshold calibrated on object-free
//! maps of their own seeds, written into the weights' metadata and the
//! validation log, and a resumed run that accepts its own checkpoint
//! whatever threshold it carries.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::temp_dir;

fn s2m(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s2m"))
        .args(args)
        .output()
        .unwrap()
}

fn train(out: &Path, iterations: &str, resume: Option<&Path>) -> Output {
    let mut args = vec![
        "train-generator",
        "--out",
        out.to_str().unwrap(),
        "--iterations",
        iterations,
        "--batch",
        "1",
        "--warmup",
        "1",
        "--height",
        "64",
        "--width",
        "128",
        "--validation-maps",
        "4",
        "--calibration-maps",
        "12",
    ];
    if let Some(checkpoint) = resume {
        args.extend(["--resume", checkpoint.to_str().unwrap()]);
    }
    s2m(&args)
}

/// The metadata entry `key` of the safetensors file at `path`.
fn metadata(path: &Path, key: &str) -> Option<String> {
    let bytes = std::fs::read(path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    header.metadata().as_ref()?.get(key).cloned()
}

#[test]
fn the_calibrated_threshold_ships_in_the_weights() {
    let out = temp_dir("train-generator");
    let output = train(&out, "2", None);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("score threshold"), "{stdout}");

    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("validation.json")).unwrap()).unwrap();
    let last = log["validations"].as_array().unwrap().last().unwrap().clone();
    let threshold = last["score_threshold"].as_f64().unwrap() as f32;
    assert!((0.05..=1.0).contains(&threshold), "{last}");
    for file in ["generator.safetensors", "generator.f16.safetensors"] {
        let saved = metadata(&out.join(file), "s2m.detector.score_threshold")
            .unwrap_or_else(|| panic!("{file} carries no threshold"));
        assert_eq!(saved.parse::<f32>().unwrap(), threshold, "{file}");
    }

    // Its own checkpoint resumes, calibrated threshold and all.
    let output = train(&out, "3", Some(&out.join("generator.safetensors")));
    assert!(output.status.success(), "{output:?}");
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("validation.json")).unwrap()).unwrap();
    let iterations: Vec<u64> = log["validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["iteration"].as_u64().unwrap())
        .collect();
    assert_eq!(iterations, [2, 3]);
    std::fs::remove_dir_all(&out).unwrap();
}
