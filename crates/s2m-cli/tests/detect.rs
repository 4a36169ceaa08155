//! `s2m detect` end to end: the boxes of the tiny R50 prompt generator on
//! the score map of `detector_parity.safetensors`, read as .npy and as PFM,
//! with the weights as a detectron2 checkpoint and as converted
//! safetensors, match the PyTorch reference (as in s2m-core's
//! `detector_parity.rs`: coordinates within 1e-2 px, scores within 1e-4).
//! Every bad map or weights file is a message with a non-zero exit code.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{
    Reference, assert_fails_with, fixture, le_bytes, npy, reference, repo_root, temp_dir,
};

/// A grayscale little-endian PFM: rows from the bottom up.
fn pfm(height: usize, width: usize, values: &[f32]) -> Vec<u8> {
    let mut bytes = format!("Pf\n{width} {height}\n-1.0\n").into_bytes();
    for row in values.chunks_exact(width).rev() {
        bytes.extend(le_bytes(row));
    }
    bytes
}

/// Writes `bytes` to `name` in a scratch directory for `test`.
fn write_file(test: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let path = temp_dir(test).join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn detect(map: &Path, weights: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s2m"))
        .arg("detect")
        .arg("--score-map")
        .arg(map)
        .arg("--weights")
        .arg(weights)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn max_coordinate_diff(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Runs `s2m detect` and checks its JSON against the reference detections.
fn check_detect(map: &Path, weights: &Path, out: &Path, r: &Reference) {
    let output = detect(map, weights, out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains(&format!(
            "{} detections on the 300x200 score map",
            r.boxes.len()
        )),
        "{summary}"
    );

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    assert_eq!(json["score_map"], map.display().to_string());
    assert_eq!(json["height"], r.height);
    assert_eq!(json["width"], r.width);
    let detections: Vec<([f32; 4], f32, i64)> = json["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let b: Vec<f32> = d["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            (
                b.try_into().unwrap(),
                d["score"].as_f64().unwrap() as f32,
                d["class"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(detections.len(), r.boxes.len());
    assert!(
        detections.windows(2).all(|w| w[0].1 >= w[1].1),
        "not by decreasing score"
    );
    for ((b, score), class) in r.boxes.iter().zip(&r.scores).zip(&r.classes) {
        let (_, found, _) = detections
            .iter()
            .find(|(d, _, c)| c == class && max_coordinate_diff(d, b) < 1e-2)
            .unwrap_or_else(|| panic!("detection {b:?} class {class} missing"));
        assert!((found - score).abs() < 1e-4, "score {found} vs {score}");
    }
}

#[test]
fn npy_map_and_detectron2_checkpoint_give_the_reference_boxes() {
    let r = reference();
    let map = write_file(
        "detect-npy",
        "scores.npy",
        &npy("<f4", &[r.height, r.width], &le_bytes(&r.map)),
    );
    let out = temp_dir("detect-npy").join("boxes.json");
    check_detect(&map, &fixture("detector_r50_tiny.pth"), &out, &r);
}

#[test]
fn pfm_map_and_converted_safetensors_give_the_reference_boxes() {
    let r = reference();
    let dir = temp_dir("detect-pfm");
    let converted = Command::new(env!("CARGO_BIN_EXE_s2m"))
        .args(["weights", "convert"])
        .arg(fixture("detector_r50_tiny.pth"))
        .args(["--model", "generator_tiny", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        converted.status.success(),
        "{}",
        String::from_utf8_lossy(&converted.stderr)
    );
    let map = write_file("detect-pfm", "scores.pfm", &pfm(r.height, r.width, &r.map));
    let weights = dir.join("generator_tiny.f32.safetensors");
    check_detect(&map, &weights, &dir.join("boxes.json"), &r);
}

#[test]
fn bad_score_maps_are_messages() {
    let weights = fixture("detector_r50_tiny.pth");
    let run = |name: &str, bytes: &[u8]| {
        detect(
            &write_file("detect-bad-maps", name, bytes),
            &weights,
            Path::new("/dev/null"),
        )
    };
    let values = le_bytes(&[0.5; 6]);

    let stack = run("stack.npy", &npy("<f4", &[2, 1, 3], &values));
    assert_fails_with(&stack, "stack.npy: shape [2, 1, 3] is not a 2-D map");

    let ints = run("ints.npy", &npy("<i4", &[2, 3], &[0; 24]));
    assert_fails_with(
        &ints,
        "ints.npy: holds dtype '<i4'; a score map needs float32 or float64 values",
    );

    let mut with_nan = [0.5f32; 6];
    with_nan[4] = f32::NAN;
    let nan = run("nan.npy", &npy("<f4", &[2, 3], &le_bytes(&with_nan)));
    assert_fails_with(
        &nan,
        "nan.npy: 1 value(s) NaN or infinite, the first (NaN) at row 1, column 1",
    );

    let whole = npy("<f4", &[2, 3], &values);
    let cut = run("cut.npy", &whole[..whole.len() - 3]);
    assert_fails_with(
        &cut,
        &format!(
            "cut.npy: truncated: its data needs {} bytes, the file has {}",
            whole.len(),
            whole.len() - 3
        ),
    );

    let mut png8 = std::io::Cursor::new(Vec::new());
    image::GrayImage::new(3, 2)
        .write_to(&mut png8, image::ImageFormat::Png)
        .unwrap();
    let eight_bit = run("map8.png", png8.get_ref());
    assert_fails_with(
        &eight_bit,
        "map8.png: is an 8-bit grayscale PNG; a score map needs a 16-bit grayscale PNG \
         or a float format",
    );

    let text = run("notes.txt", b"not a score map");
    assert_fails_with(&text, "notes.txt: not a score map format");

    let missing = detect(
        Path::new("/nonexistent/scores.npy"),
        &weights,
        Path::new("/dev/null"),
    );
    assert_fails_with(&missing, "cannot read score map /nonexistent/scores.npy");
}

#[test]
fn weights_that_are_not_a_prompt_generator_are_messages() {
    let map = write_file(
        "detect-bad-weights",
        "scores.npy",
        &npy("<f4", &[64, 64], &le_bytes(&[0.0; 64 * 64])),
    );
    let run = |weights: &Path| detect(&map, weights, Path::new("/dev/null"));

    let sam = run(&fixture("sam_vit_tiny.pth"));
    assert_fails_with(&sam, "sam_vit_tiny.pth: not prompt generator weights");
    assert_fails_with(&sam, "its first tensor is `image_encoder.");

    let garbage = write_file("detect-bad-weights", "model.pth", b"definitely not weights");
    assert_fails_with(
        &run(&garbage),
        "model.pth: expected the prompt generator's weights: a .safetensors file",
    );

    let missing = run(Path::new("/nonexistent/model.pth"));
    assert_fails_with(&missing, "cannot read weights /nonexistent/model.pth");

    // Our shipped generator with one tensor turned to NaN: refused, the
    // tensor named (it used to run and find no box).
    let shipped = std::fs::read(repo_root().join("weights/s2m_generator.f16.safetensors")).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&shipped).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&shipped).unwrap();
    let target = "roi_heads.box_predictor.cls_score.weight";
    let nan: Vec<u8> = {
        let view = tensors.tensor(target).unwrap();
        view.data()
            .chunks_exact(2)
            .flat_map(|_| 0x7e00u16.to_le_bytes())
            .collect()
    };
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .names()
        .into_iter()
        .map(|name| {
            let view = tensors.tensor(name).unwrap();
            let data: &[u8] = if name == target { &nan } else { view.data() };
            let rebuilt =
                safetensors::tensor::TensorView::new(view.dtype(), view.shape().to_vec(), data)
                    .unwrap();
            (name.to_string(), rebuilt)
        })
        .collect();
    let corrupted = safetensors::serialize(views, header.metadata().clone()).unwrap();
    let path = write_file("detect-bad-weights", "nan.safetensors", &corrupted);
    assert_fails_with(
        &run(&path),
        &format!("nan.safetensors: tensor `{target}`: 768 of its 768 values are NaN"),
    );
}

/// A shipped weights file that no longer matches the manifest beside it (a
/// flipped bit, a truncated copy) is refused before use, as the page
/// refuses it; the same file away from any manifest is the user's own and
/// goes to the loader's checks.
#[test]
fn a_damaged_shipped_generator_is_refused_by_its_manifest() {
    let dir = temp_dir("damaged-shipped");
    let shipped = repo_root().join("weights/s2m_generator.f16.safetensors");
    let mut bytes = std::fs::read(&shipped).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01; // a mantissa bit of the last (f16) weight
    let weights = dir.join("s2m_generator.f16.safetensors");
    std::fs::write(&weights, &bytes).unwrap();
    std::fs::copy(
        repo_root().join("weights/manifest.json"),
        dir.join("manifest.json"),
    )
    .unwrap();
    let map = write_file(
        "damaged-shipped",
        "map.pfm",
        &pfm(64, 96, &vec![-12.0; 64 * 96]),
    );
    let out = dir.join("boxes.json");
    let refused = detect(&map, &weights, &out);
    assert_fails_with(&refused, "does not match");
    assert!(!out.exists());

    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    let output = detect(&map, &weights, &out);
    assert!(output.status.success(), "{output:?}");
}
