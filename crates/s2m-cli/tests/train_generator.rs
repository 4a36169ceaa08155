//! `s2m train-generator` on synthesised maps end to end: a few
//! iterations on small maps, the score threshold calibrated on object-free
//! maps of their own seeds, written into the weights' metadata and the
//! validation log, and a resumed run that accepts its own checkpoint
//! whatever threshold it carries; training maps of a synthesis config of
//! their own (`--training-synthesis`), checked before training starts.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{assert_fails_with, temp_dir};

fn s2m(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s2m"))
        .args(args)
        .output()
        .unwrap()
}

fn train(out: &Path, iterations: &str, resume: Option<&Path>) -> Output {
    train_with(out, iterations, resume, &[])
}

fn train_with(out: &Path, iterations: &str, resume: Option<&Path>, extra: &[&str]) -> Output {
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
    args.extend(extra);
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
    let last = log["validations"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
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

#[test]
fn training_maps_may_come_from_a_synthesis_config_of_their_own() {
    let out = temp_dir("train-generator-synthesis");
    let config = out.join("synthesis.json");
    let with_config = |json: &str| {
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(&config, json).unwrap();
        train_with(
            &out,
            "1",
            None,
            &["--training-synthesis", config.to_str().unwrap()],
        )
    };

    let output = with_config(r#"{"completeness": {"faint_probability": 1.0}}"#);
    assert!(output.status.success(), "{output:?}");
    assert!(out.join("generator.safetensors").exists());

    let output = with_config(r#"{"completeness": {"faint_probability": 2.0}}"#);
    assert_fails_with(&output, "synthesis.json: unusable synthesis config");
    assert_fails_with(&output, "faint_probability");

    let output = with_config("faint please");
    assert_fails_with(&output, "synthesis.json: not a synthesis config");
    std::fs::remove_dir_all(&out).unwrap();
}
