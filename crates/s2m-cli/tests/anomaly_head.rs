//! `s2m anomaly-head prepare | train | maps` end to end on tiny data (two
//! 96 x 64 road frames, MobileSAM's real encoder), then `s2m segment
//! --scorer head=FILE` with the head just trained: the training path a
//! user follows, each step reading what the previous one wrote.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use image::{GrayImage, Luma, Rgb, RgbImage};

fn s2m(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s2m"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Two road frames (grey road, class 3, below a blue sky, class 0) with
/// their class maps, in `images/` and `classes/`.
fn road_frames(root: &Path) {
    for dir in ["images", "classes"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for k in 0..2u8 {
        let image = RgbImage::from_fn(96, 64, |x, y| {
            if y < 24 {
                Rgb([90, 140, 220])
            } else {
                Rgb([100 + k * 10, 100, 100 + (x % 7) as u8])
            }
        });
        image.save(root.join(format!("images/f{k}.png"))).unwrap();
        GrayImage::from_fn(96, 64, |_, y| Luma([if y < 24 { 0 } else { 3 }]))
            .save(root.join(format!("classes/f{k}.png")))
            .unwrap();
    }
}

#[test]
fn prepare_train_maps_and_segment_with_the_trained_head() {
    let root = temp_dir("anomaly-head");
    road_frames(&root);
    let cache = root.join("cache");
    let inliers = format!(
        "{}={}",
        root.join("images").display(),
        root.join("classes").display()
    );
    let prepare = |cache: &Path| {
        s2m(&[
            "anomaly-head".as_ref(),
            "prepare".as_ref(),
            "--inliers".as_ref(),
            inliers.as_ref(),
            "--procedural-fraction".as_ref(),
            "1".as_ref(),
            "--weights-dir".as_ref(),
            weights_dir().as_os_str(),
            "--out".as_ref(),
            cache.as_os_str(),
        ])
    };
    ok(prepare(&cache));
    for name in [
        "00000.safetensors",
        "00001.safetensors",
        "frames/00000.jpg",
        "frames/00001.labels.png",
    ] {
        assert!(cache.join(name).is_file(), "{name}");
    }
    let labels = image::open(cache.join("frames/00000.labels.png"))
        .unwrap()
        .into_luma8();
    assert!(labels.pixels().any(|p| p.0[0] == 1), "objects were pasted");
    assert!(labels.pixels().all(|p| p.0[0] <= 1 || p.0[0] == 255));
    // A second run finds every frame cached and leaves them as they are.
    let before = std::fs::read(cache.join("00001.safetensors")).unwrap();
    let again = ok(prepare(&cache));
    assert!(again.contains("cached 2 frames"), "{again}");
    assert_eq!(
        std::fs::read(cache.join("00001.safetensors")).unwrap(),
        before
    );

    let head = root.join("head.safetensors");
    ok(s2m(&[
        "anomaly-head".as_ref(),
        "train".as_ref(),
        "--cache".as_ref(),
        cache.as_os_str(),
        "--epochs".as_ref(),
        "3".as_ref(),
        "--held-out-every".as_ref(),
        "0".as_ref(),
        "--out".as_ref(),
        head.as_os_str(),
    ]));
    let bytes = std::fs::read(&head).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap();
    assert!(metadata["s2m.training.command"].contains("anomaly-head train"));
    assert!(metadata["s2m.training.report"].contains("\"training_frames\":2"));

    let maps = root.join("maps");
    let written = ok(s2m(&[
        "anomaly-head".as_ref(),
        "maps".as_ref(),
        "--cache".as_ref(),
        cache.as_os_str(),
        "--head".as_ref(),
        head.as_os_str(),
        "--min-object-pixels".as_ref(),
        "1".as_ref(),
        "--out".as_ref(),
        maps.as_os_str(),
    ]));
    assert!(written.contains("wrote 2 maps"), "{written}");
    let label = std::fs::read_to_string(maps.join("sample_000000.json")).unwrap();
    assert!(
        label.contains("\"height\": 64") && label.contains("\"width\": 96"),
        "{label}"
    );

    let scorer = format!("head={}", head.display());
    let image = root.join("images/f0.png");
    let out = root.join("segmented");
    let output = segment_with_tiny_generator(
        &[image.as_os_str(), "--scorer".as_ref(), scorer.as_ref()],
        &out,
    );
    ok(output);
    assert!(out.join("f0").is_dir());
}

#[test]
fn bad_inputs_are_messages() {
    let root = temp_dir("anomaly-head-bad");
    let nothing = s2m(&[
        "anomaly-head".as_ref(),
        "prepare".as_ref(),
        "--weights-dir".as_ref(),
        weights_dir().as_os_str(),
        "--out".as_ref(),
        root.join("c").as_os_str(),
    ]);
    assert_fails_with(&nothing, "no frames");
    let pair = s2m(&[
        "anomaly-head".as_ref(),
        "prepare".as_ref(),
        "--inliers".as_ref(),
        "x".as_ref(),
    ]);
    assert_fails_with(&pair, "expected IMAGES_DIR=CLASSES_DIR");
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let empty = s2m(&[
        "anomaly-head".as_ref(),
        "train".as_ref(),
        "--cache".as_ref(),
        root.join("empty").as_os_str(),
        "--out".as_ref(),
        root.join("h.safetensors").as_os_str(),
    ]);
    assert_fails_with(&empty, "no cached embedding");
    std::fs::write(root.join("not-a-head.safetensors"), b"garbage").unwrap();
    let scorer = format!("head={}", root.join("not-a-head.safetensors").display());
    let image = root.join("f.png");
    RgbImage::new(8, 8).save(&image).unwrap();
    let bad_head = segment_with_tiny_generator(
        &[image.as_os_str(), "--scorer".as_ref(), scorer.as_ref()],
        &root.join("out"),
    );
    assert_fails_with(&bad_head, "not-a-head.safetensors");
}
