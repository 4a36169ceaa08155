//! The prompt generator we ship (its model card: weights/README.md): its file matches
//! its entry in `weights/manifest.json`, and plugged into `s2m detect` it
//! finds the objects of a fresh set of synthesised maps (`s2m synthesize`
//! with scene seeds, which training never draws): recall at IoU >= 0.5 of
//! at least 0.9 on objects of at least 32x32 px.

mod common;

use std::process::Command;

use common::{temp_dir, weights_dir};
use s2m_weights::{Manifest, integrity};

const MODEL: &str = "s2m_generator";
const SCENES: usize = 30;

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

fn boxes(json: &serde_json::Value, key: &str, field: Option<&str>) -> Vec<[f32; 4]> {
    json[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let b = field.map_or(b, |f| &b[f]);
            serde_json::from_value(b.clone()).unwrap()
        })
        .collect()
}

#[test]
fn the_shipped_generator_matches_its_manifest_and_finds_fresh_objects() {
    let dir = weights_dir();
    let manifest = Manifest::read(&dir.join("manifest.json")).unwrap();
    let entry = manifest
        .files
        .iter()
        .find(|e| e.model == MODEL)
        .expect("weights/manifest.json lists the shipped generator");
    let weights = dir.join(&entry.name);
    let bytes = std::fs::read(&weights).unwrap();
    integrity::verify(&entry.name, &bytes, entry.size, &entry.sha256).unwrap();

    let scenes = temp_dir("shipped-generator");
    let s2m = || Command::new(env!("CARGO_BIN_EXE_s2m"));
    let synthesized = s2m()
        .args([
            "synthesize",
            "--count",
            &SCENES.to_string(),
            "--seed",
            "5000",
        ])
        .arg("--out")
        .arg(&scenes)
        .output()
        .unwrap();
    assert!(synthesized.status.success(), "{synthesized:?}");
    let (mut objects, mut found) = (0, 0);
    for k in 0..SCENES {
        let stem = scenes.join(format!("scene-{k:03}"));
        let out = stem.with_extension("boxes.json");
        let detected = s2m()
            .arg("detect")
            .arg("--score-map")
            .arg(stem.with_extension("npy"))
            .arg("--weights")
            .arg(&weights)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(detected.status.success(), "{detected:?}");
        let read = |path| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
        };
        let truth = boxes(&read(stem.with_extension("json")), "boxes", None);
        let predicted = boxes(&read(out), "detections", Some("box"));
        for t in truth
            .iter()
            .filter(|t| (t[2] - t[0]).min(t[3] - t[1]) >= 32.0)
        {
            objects += 1;
            found += predicted.iter().any(|p| iou(p, t) >= 0.5) as usize;
        }
    }
    let recall = found as f32 / objects as f32;
    eprintln!("recall at IoU 0.5: {found}/{objects} = {recall:.3}");
    assert!(objects >= 10, "only {objects} objects of 32 px and more");
    assert!(recall >= 0.9, "recall {recall:.3}");
    std::fs::remove_dir_all(&scenes).unwrap();
}
