//! Each benchmark layout read from a tiny folder made here: frames found,
//! labels mapped to 0 / 1 / 255, missing and malformed labels reported
//! with their paths.

use std::path::Path;

use image::{GrayImage, Luma, RgbImage};
use s2m_eval::datasets::{Dataset, Layout};

fn gray(path: &Path, values: &[u8], width: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let height = values.len() as u32 / width;
    GrayImage::from_fn(width, height, |x, y| {
        Luma([values[(y * width + x) as usize]])
    })
    .save(path)
    .unwrap();
}

fn picture(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::new(2, 2).save(path).unwrap();
}

fn labels_of(dataset: &Dataset, k: usize) -> Vec<u8> {
    dataset.samples[k].read_labels().unwrap().into_labels()
}

#[test]
fn plain_folder_with_masks_beside_the_images() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    picture(&root.join("scene-000.png"));
    gray(&root.join("scene-000.mask.png"), &[0, 255, 255, 0], 2);
    picture(&root.join("scene-001.png"));
    gray(&root.join("labels/scene-001.png"), &[255, 0, 7, 0], 2);
    picture(&root.join("scene-002.png")); // no label
    let dataset = Dataset::open(root, Layout::Auto).unwrap();
    assert_eq!(
        dataset.layout,
        Layout::Folder {
            anomaly: 255,
            void: None
        }
    );
    assert_eq!(dataset.samples.len(), 2);
    assert_eq!(dataset.samples[0].name, "scene-000.png");
    assert_eq!(labels_of(&dataset, 0), [0, 1, 1, 0]);
    assert_eq!(labels_of(&dataset, 1), [1, 0, 0, 0]);
    assert_eq!(dataset.skipped.len(), 1);
    assert!(dataset.skipped[0].path.ends_with("scene-002.png"));
    assert!(dataset.skipped[0].reason.contains("scene-002.mask.png"));

    let custom = Dataset::open(
        root,
        Layout::Folder {
            anomaly: 7,
            void: Some(255),
        },
    )
    .unwrap();
    assert_eq!(labels_of(&custom, 1), [255, 0, 1, 0]);
}

#[test]
fn road_anomaly_release() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    picture(&root.join("frames/animals01.jpg"));
    gray(
        &root.join("frames/animals01.labels/labels_semantic.png"),
        &[0, 2, 2, 0],
        2,
    );
    let dataset = Dataset::open(root, Layout::Auto).unwrap();
    assert_eq!(dataset.layout, Layout::RoadAnomaly);
    assert_eq!(labels_of(&dataset, 0), [0, 1, 1, 0]);
}

#[test]
fn smiyc_fishyscapes_and_camvid_ood() {
    let dir = tempfile::tempdir().unwrap();
    let smiyc = dir.path().join("smiyc");
    picture(&smiyc.join("images/validation0000.jpg"));
    gray(
        &smiyc.join("labels_masks/validation0000_labels_semantic.png"),
        &[0, 1, 255, 0],
        2,
    );
    let dataset = Dataset::open(&smiyc, Layout::Auto).unwrap();
    assert_eq!(dataset.layout, Layout::Smiyc);
    assert_eq!(labels_of(&dataset, 0), [0, 1, 255, 0]);

    let fishy = dir.path().join("fishy");
    picture(&fishy.join("original/image_0.png"));
    gray(&fishy.join("labels/image_0.png"), &[0, 1, 2, 255], 2);
    let dataset = Dataset::open(&fishy, Layout::Auto).unwrap();
    assert_eq!(dataset.layout, Layout::Fishyscapes);
    assert_eq!(labels_of(&dataset, 0), [0, 1, 255, 255]);

    let camvid = dir.path().join("camvid");
    picture(&camvid.join("test_ood/0001TP_008550.png"));
    gray(
        &camvid.join("testannot_ood/0001TP_008550.png"),
        &[3, 12, 11, 0],
        2,
    );
    let dataset = Dataset::open(&camvid, Layout::Auto).unwrap();
    assert_eq!(dataset.layout, Layout::CamVidOod);
    assert_eq!(labels_of(&dataset, 0), [0, 1, 255, 0]);
}

#[test]
fn malformed_labels_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    picture(&root.join("images/a.jpg"));
    gray(
        &root.join("labels_masks/a_labels_semantic.png"),
        &[0, 9, 0, 0],
        2,
    );
    picture(&root.join("images/b.jpg"));
    std::fs::write(
        root.join("labels_masks/b_labels_semantic.png"),
        b"not a png",
    )
    .unwrap();
    picture(&root.join("images/c.jpg"));
    RgbImage::from_pixel(2, 2, image::Rgb([60, 250, 240]))
        .save(root.join("labels_masks/c_labels_semantic.png"))
        .unwrap();
    let dataset = Dataset::open(root, Layout::Smiyc).unwrap();
    for (k, expected) in [
        (0, "value 9 at pixel (1, 0)"),
        (1, "b_labels_semantic.png"),
        (2, "colour image"),
    ] {
        let message = dataset.samples[k].read_labels().unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("labels_masks"), "{message}");
    }
}

#[test]
fn a_folder_without_frames_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Dataset::open(&dir.path().join("missing"), Layout::Auto).is_err());
    assert!(
        Dataset::open(dir.path(), Layout::Auto)
            .unwrap_err()
            .to_string()
            .contains("no frame")
    );
    assert!(
        Dataset::open(dir.path(), Layout::Smiyc)
            .unwrap_err()
            .to_string()
            .contains("images")
    );
}

#[test]
fn shards_take_every_nth_frame() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..5 {
        picture(&dir.path().join(format!("f{k}.png")));
        gray(&dir.path().join(format!("f{k}.mask.png")), &[0; 4], 2);
    }
    let dataset = Dataset::open(dir.path(), Layout::Auto).unwrap();
    let shard: Vec<usize> = dataset.shard(1, 3).iter().map(|(i, _)| *i).collect();
    assert_eq!(shard, [1, 4]);
}

#[test]
fn a_frame_list_keeps_a_split() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..4 {
        picture(&dir.path().join(format!("test_ood/f{k}.png")));
        gray(
            &dir.path().join(format!("testannot_ood/f{k}.png")),
            &[0, 12, 0, 0],
            2,
        );
    }
    let mut dataset = Dataset::open(dir.path(), Layout::Auto).unwrap();
    dataset
        .keep_listed("# dev half\nf3\ntest_ood/f1.png\n\nf0.png\n")
        .unwrap();
    let names: Vec<&str> = dataset.samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["test_ood/f0.png", "test_ood/f1.png", "test_ood/f3.png"]
    );
    let message = dataset.keep_listed("f0\nf9\n").unwrap_err().to_string();
    assert!(
        message.contains("f9") && message.contains("1 listed frame"),
        "{message}"
    );
}
