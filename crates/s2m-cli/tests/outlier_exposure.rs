//! `s2m outlier-exposure` and `s2m train-generator --oe-cache` end to end:
//! a tiny Cityscapes tree and a plain object folder written
//! here, scored by the reduced-width RPL fixture (`scorer_rpl_tiny.pth`,
//! loaded as a user's RPL checkpoint is), cached, reused by a second run
//! without re-scoring, and trained on for a few iterations; the trained
//! generator then runs in `s2m detect`. Every bad input is a message with
//! a non-zero exit code.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use common::{assert_fails_with, fixture, temp_dir};
use image::{GrayImage, Luma, Rgb, RgbImage};

/// OE images made by the tests.
const COUNT: usize = 8;

fn s2m(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s2m"))
        .args(args)
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn save(path: &Path, image: impl FnOnce(&Path)) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image(path);
}

/// Cityscapes `train` (two cities, six road-like images of 60 x 90) and an
/// object folder (two 40 x 40 images, a disc and a square as masks).
fn write_datasets(root: &Path) -> (PathBuf, PathBuf) {
    let cityscapes = root.join("cityscapes");
    for (i, city) in ["aachen", "bremen", "bremen", "aachen", "bremen", "aachen"]
        .iter()
        .enumerate()
    {
        let path = cityscapes.join(format!(
            "leftImg8bit/train/{city}/{city}_{i:06}_000019_leftImg8bit.png"
        ));
        let picture = RgbImage::from_fn(90, 60, |x, y| {
            let road = if y > 30 { 90 } else { 160 };
            Rgb([road, road + (x % 7) as u8, 100 + 10 * i as u8])
        });
        save(&path, |p| picture.save(p).unwrap());
    }
    let objects = root.join("objects");
    for (name, colour) in [("disc", [250, 20, 20]), ("square", [20, 20, 250])] {
        let picture = RgbImage::from_pixel(40, 40, Rgb(colour));
        save(&objects.join(format!("images/{name}.png")), |p| {
            picture.save(p).unwrap()
        });
        let mask = GrayImage::from_fn(40, 40, |x, y| {
            let inside = name == "square" || (x as i32 - 20).pow(2) + (y as i32 - 20).pow(2) < 300;
            Luma([255 * u8::from(inside)])
        });
        save(&objects.join(format!("masks/{name}.png")), |p| {
            mask.save(p).unwrap()
        });
    }
    (cityscapes, objects)
}

fn rpl() -> String {
    format!("rpl={}", fixture("scorer_rpl_tiny.pth").display())
}

/// `s2m outlier-exposure` on the tiny datasets: 48 x 64 OE images.
fn outlier_exposure(cityscapes: &Path, objects: &Path, cache: &Path) -> Output {
    s2m(&[
        "outlier-exposure",
        "--cityscapes",
        cityscapes.to_str().unwrap(),
        "--objects",
        objects.to_str().unwrap(),
        "--scorer",
        &rpl(),
        "--cache",
        cache.to_str().unwrap(),
        "--count",
        &COUNT.to_string(),
        "--height",
        "48",
        "--width",
        "64",
        "--seed",
        "3",
    ])
}

/// Modification times of the cached files, by name.
fn cached_files(dir: &Path) -> Vec<(String, SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn oe_maps_are_scored_once_cached_and_trained_on() {
    let root = temp_dir("oe-train");
    let (cityscapes, objects) = write_datasets(&root);
    let cache = root.join("cache");

    let stdout = succeeded(&outlier_exposure(&cityscapes, &objects, &cache));
    assert!(
        stdout.contains(&format!("{COUNT} computed, 0 reused")),
        "{stdout}"
    );
    let folders: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(folders.len(), 1);
    let dir = folders.into_iter().next().unwrap().unwrap().path();
    let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.starts_with("rpl-scorer_rpl_tiny-"), "{name}");
    assert!(
        stdout.contains(&format!("--oe-cache {}", dir.display())),
        "{stdout}"
    );
    let files = cached_files(&dir);
    assert_eq!(files.len(), 2 * COUNT, "{files:?}");

    // Same inputs, seed, size and weights: every map comes from the cache.
    let stdout = succeeded(&outlier_exposure(&cityscapes, &objects, &cache));
    assert!(
        stdout.contains(&format!("0 computed, {COUNT} reused")),
        "{stdout}"
    );
    assert_eq!(cached_files(&dir), files, "no file was rewritten");

    let out = root.join("generator");
    let stdout = succeeded(&s2m(&[
        "train-generator",
        "--oe-cache",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--iterations",
        "3",
        "--batch",
        "2",
        "--warmup",
        "1",
        "--validate-every",
        "2",
        "--validation-maps",
        "2",
    ]));
    assert!(
        stdout.contains("training on 6 cached maps (1.0 epochs), validating on 2 held out"),
        "{stdout}"
    );
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("validation.json")).unwrap()).unwrap();
    let iterations: Vec<_> = log["validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["iteration"].as_u64().unwrap(),
                v["maps"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(iterations, [(2, 2), (3, 2)]);

    // The input normalisation is the RPL maps', not the energy default.
    let weights = out.join("generator.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().as_ref().unwrap();
    assert_eq!(metadata["s2m.training.iterations"], "3");
    assert_ne!(metadata["s2m.detector.pixel_mean"], "-8,-8,-8");
    assert!(out.join("generator.f16.safetensors").is_file());

    // The trained generator reads a cached map like any score map.
    let detections = root.join("detections.json");
    succeeded(&s2m(&[
        "detect",
        "--score-map",
        dir.join("sample_000000.npy").to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--out",
        detections.to_str().unwrap(),
    ]));
    assert!(detections.is_file());

    // Resuming on synthesised maps: another input normalisation.
    let output = s2m(&[
        "train-generator",
        "--out",
        out.to_str().unwrap(),
        "--iterations",
        "4",
        "--resume",
        weights.to_str().unwrap(),
    ]);
    assert_fails_with(&output, "input normalisation");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn bad_inputs_are_clear_errors() {
    let root = temp_dir("oe-errors");
    let (cityscapes, objects) = write_datasets(&root);
    let cache = root.join("cache");
    let missing = root.join("missing");
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let oe = |cityscapes: &Path, objects: &[&str], scorer: &str| {
        let mut args = vec![
            "outlier-exposure".to_owned(),
            "--cityscapes".into(),
            path(cityscapes),
            "--scorer".into(),
            scorer.into(),
            "--cache".into(),
            path(&cache),
        ];
        args.extend(objects.iter().map(|a| a.to_string()));
        s2m(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let objects_args = ["--objects", objects.to_str().unwrap()];

    assert_fails_with(
        &oe(&missing, &objects_args, &rpl()),
        "leftImg8bit/train: no such folder",
    );
    assert_fails_with(
        &oe(&cityscapes, &["--objects", &path(&missing)], &rpl()),
        "images: no such folder",
    );
    assert_fails_with(
        &oe(&cityscapes, &["--coco", &path(&missing)], &rpl()),
        "instances_train2017.json: no such file",
    );
    assert_fails_with(&oe(&cityscapes, &[], &rpl()), "--coco <COCO>|--objects");
    assert_fails_with(
        &oe(
            &cityscapes,
            &["--coco", &path(&missing), "--objects", &path(&objects)],
            &rpl(),
        ),
        "cannot be used with",
    );
    assert_fails_with(
        &oe(&cityscapes, &objects_args, "novelty"),
        "--scorer rpl=WEIGHTS or pebal=WEIGHTS",
    );
    let pebal = format!("pebal={}", fixture("scorer_rpl_tiny.pth").display());
    assert_fails_with(
        &oe(&cityscapes, &objects_args, &pebal),
        "holds RPL weights, not PEBAL's",
    );
    assert_fails_with(
        &oe(
            &cityscapes,
            &objects_args,
            &format!("rpl={}", path(&missing)),
        ),
        "cannot read weights",
    );

    let train = |oe_cache: &Path, validation_maps: &str| {
        s2m(&[
            "train-generator",
            "--oe-cache",
            &path(oe_cache),
            "--out",
            &path(&root.join("out")),
            "--iterations",
            "1",
            "--validation-maps",
            validation_maps,
        ])
    };
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_fails_with(&train(&empty, "1"), "no cached OE maps");
    assert_fails_with(&train(&missing, "1"), "cannot read");
    // One cached map and one held out: nothing left to train on.
    succeeded(&s2m(&[
        "outlier-exposure",
        "--cityscapes",
        &path(&cityscapes),
        "--objects",
        &path(&objects),
        "--scorer",
        &rpl(),
        "--cache",
        &path(&cache),
        "--count",
        "1",
        "--height",
        "32",
        "--width",
        "32",
    ]));
    assert_fails_with(&train(&cache, "1"), "pass one of its folders: rpl-");
    let dir = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap();
    assert_fails_with(
        &train(&dir.path(), "1"),
        "1 examples leave none for training when 1 are held out",
    );
    std::fs::remove_dir_all(&root).unwrap();
}
