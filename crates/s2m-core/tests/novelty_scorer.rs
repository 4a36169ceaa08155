//! The feature-novelty scorer (`s2m_core::scorer::novelty`) on real
//! MobileSAM embeddings of a procedural drive: frames of a road scene that
//! change a little from one to the next (the dashes move, the noise and the
//! hills differ), one of them with an object of a colour and texture that
//! appears nowhere else.
//!
//! Needs the converted weights: `cargo xtask weights` (or
//! `S2M_WEIGHTS_DIR`). CPU backend only: each embedding takes seconds, so
//! the drive is embedded once and shared by the tests.

mod common;

use std::sync::OnceLock;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use s2m_core::pipeline::ImageEmbedding;
use s2m_core::sam::transforms::ImageFrame;
use s2m_core::sam::{Sam, SamConfig};
use s2m_core::scorer::novelty::{
    FrameCells, NoveltyConfig, ReferenceBank, frame_cells, novelty_map,
};
use s2m_core::weights::load_sam;

const WEIGHTS: &str = "mobile_sam.f32.safetensors";
const WIDTH: usize = 512;
const HEIGHT: usize = 288;
/// Frames of the drive; the last one carries the object.
const FRAMES: usize = 4;
const WITH_OBJECT: usize = FRAMES - 1;

/// A deterministic hash of (x, y, seed) in 0..1.
fn hash(x: usize, y: usize, seed: usize) -> f32 {
    let mut h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (seed as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    (h >> 40) as f32 / (1u64 << 24) as f32
}

/// Frame `t` of the drive: sky, a wavy tree line, asphalt with coarse noise,
/// solid edge lines and a dashed centre line converging to a vanishing
/// point; with `object`, a purple crate with yellow stripes on the road.
/// Returns the `[H, W, 3]` pixels (0..255) and the object's mask.
fn drive_frame(t: usize, object: bool) -> (Vec<f32>, Vec<bool>) {
    let horizon = 120.0f32;
    let (vx, vy) = (256.0f32, horizon);
    let mut pixels = vec![0.0f32; WIDTH * HEIGHT * 3];
    let mut mask = vec![false; WIDTH * HEIGHT];
    let phase = t as f32 * 0.9;
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (xf, yf) = (x as f32, y as f32);
            let trees = horizon - 12.0 - 8.0 * (xf / 23.0 + phase).sin() - 4.0 * (xf / 9.0).sin();
            let rgb = if yf < trees {
                let s = yf / horizon;
                [90.0 + 70.0 * s, 140.0 + 50.0 * s, 215.0 + 20.0 * s]
            } else if yf < horizon {
                let n = 30.0 * hash(x / 3, y / 3, t) - 15.0;
                [50.0 + n, 110.0 + n, 50.0 + n]
            } else {
                // Perspective: depth grows towards the horizon; the centre
                // dashes move with t.
                let depth = 1.0 / (yf - vy);
                let along = (xf - vx) * depth;
                let noise = 36.0 * hash(x / 2, y / 2, t + 100) - 18.0;
                let mut c = [105.0 + noise, 105.0 + noise, 108.0 + noise];
                let line_half = 0.045;
                let edge = (along.abs() - 1.6).abs() < line_half;
                let dash = along.abs() < line_half * 0.8
                    && ((60.0 * depth * 10.0 + t as f32 * 0.37).fract() < 0.5);
                if edge || dash {
                    c = [230.0, 230.0, 225.0];
                }
                c
            };
            let i = y * WIDTH + x;
            let mut rgb = rgb;
            if object && (300..352).contains(&x) && (200..244).contains(&y) {
                mask[i] = true;
                rgb = if (x - 300) / 6 % 2 == 0 {
                    [150.0, 40.0, 170.0]
                } else {
                    [240.0, 220.0, 30.0]
                };
            }
            pixels[i * 3..i * 3 + 3].copy_from_slice(&rgb);
        }
    }
    (pixels, mask)
}

/// The drive's embeddings (host copies, shared by the tests) and the
/// object's mask.
struct Drive {
    embeddings: Vec<(Vec<f32>, ImageFrame)>,
    object: Vec<bool>,
}

fn drive() -> &'static Drive {
    static DRIVE: OnceLock<Drive> = OnceLock::new();
    DRIVE.get_or_init(|| {
        let device = Device::flex();
        let sam: Sam = load_sam(
            &SamConfig::mobile_sam(),
            weights_bytes(WEIGHTS),
            WEIGHTS,
            &device,
        )
        .unwrap();
        let mut object = Vec::new();
        let embeddings = (0..FRAMES)
            .map(|t| {
                let (pixels, mask) = drive_frame(t, t == WITH_OBJECT);
                if t == WITH_OBJECT {
                    object = mask;
                }
                let image =
                    Tensor::<3>::from_data(TensorData::new(pixels, [HEIGHT, WIDTH, 3]), &device);
                let (input, frame) = sam.preprocess(image);
                (to_vec(sam.embed(input)), frame)
            })
            .collect();
        Drive { embeddings, object }
    })
}

fn embedding(t: usize) -> ImageEmbedding {
    embedding_on(t, &Device::flex())
}

fn embedding_on(t: usize, device: &Device) -> ImageEmbedding {
    let (values, frame) = &drive().embeddings[t];
    ImageEmbedding {
        embedding: Tensor::from_data(TensorData::new(values.clone(), [1, 256, 64, 64]), device),
        frame: *frame,
    }
}

/// Area under the ROC curve of `scores` for the positives `labels`
/// (Mann-Whitney U, ties counted half).
fn auroc(scores: &[f32], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0f64, 0);
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += mid_rank * order[i..j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j;
    }
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

fn quantile(values: &[f32], q: f64) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn mean_where(values: &[f32], mask: &[bool], inside: bool) -> f32 {
    let picked: Vec<f32> = values
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m == inside)
        .map(|(v, _)| *v)
        .collect();
    picked.iter().sum::<f32>() / picked.len() as f32
}

fn drive_map(t: usize, bank: Option<&ReferenceBank>) -> Vec<f32> {
    let map = novelty_map(&embedding(t), bank, &NoveltyConfig::default());
    assert_eq!(map.dims(), [HEIGHT, WIDTH], "the map has the image's size");
    to_vec(map)
}

fn cells(t: usize) -> FrameCells {
    let e = embedding(t);
    frame_cells(&e.embedding, &e.frame)
}

/// Scores above this are "clearly novel" on the generator's energy scale.
const NOVEL: f32 = -4.0;

/// The object's pixels score high, the rest low: AUROC, the means, and the
/// object's mean above the "clearly novel" level.
fn assert_finds_object(what: &str, map: &[f32], object: &[bool], min_gap: f32) {
    let auroc = auroc(map, object);
    let (inside, outside) = (
        mean_where(map, object, true),
        mean_where(map, object, false),
    );
    eprintln!("{what}: pixel AUROC {auroc:.4}, mean inside {inside:.2}, outside {outside:.2}");
    assert!(auroc >= 0.9, "{what}: pixel AUROC {auroc}");
    assert!(
        inside - outside >= min_gap,
        "{what}: mean inside {inside}, outside {outside}"
    );
}

/// An object-free frame stays at the inlier level nearly everywhere.
fn assert_inlier(what: &str, map: &[f32]) {
    let (median, q99) = (quantile(map, 0.5), quantile(map, 0.99));
    let novel = map.iter().filter(|v| **v > NOVEL).count() as f64 / map.len() as f64;
    eprintln!("{what}: median {median:.2}, 99th percentile {q99:.2}, above {NOVEL}: {novel:.4}");
    assert!(median < -10.0, "{what}: median {median}");
    assert!(q99 < -6.0, "{what}: 99th percentile {q99}");
}

#[test]
fn a_lone_frame_scores_the_object_by_its_rarity_in_the_frame() {
    let d = drive();
    let map = drive_map(WITH_OBJECT, None);
    assert_finds_object("lone drive frame", &map, &d.object, 4.0);
    assert!(mean_where(&map, &d.object, true) > NOVEL);

    // The repository's road fixture (a crate on a road, its mask drawn by
    // the script that made it), at 1024x576.
    let device = Device::flex();
    let sam: Sam = load_sam(
        &SamConfig::mobile_sam(),
        weights_bytes(WEIGHTS),
        WEIGHTS,
        &device,
    )
    .unwrap();
    let rgb = image::open(fixture_path("road_1024x576.png"))
        .unwrap()
        .to_rgb8();
    let pixels: Vec<f32> = rgb.into_raw().into_iter().map(f32::from).collect();
    let image = Tensor::<3>::from_data(TensorData::new(pixels, [576, 1024, 3]), &device);
    let (input, frame) = sam.preprocess(image);
    let embedded = ImageEmbedding {
        embedding: sam.embed(input),
        frame,
    };
    let map = novelty_map(&embedded, None, &NoveltyConfig::default());
    assert_eq!(map.dims(), [576, 1024]);
    let object: Vec<bool> = image::open(fixture_path("road_1024x576_object_mask.png"))
        .unwrap()
        .to_luma8()
        .into_raw()
        .into_iter()
        .map(|v| v > 127)
        .collect();
    assert_finds_object("lone road fixture", &to_vec(map), &object, 3.0);
}

#[test]
fn a_bank_of_object_free_frames_scores_what_it_has_not_seen() {
    let d = drive();
    let bank = ReferenceBank::from_frames([cells(0), cells(1)]);
    let map = drive_map(WITH_OBJECT, Some(&bank));
    assert_finds_object("bank, object frame", &map, &d.object, 8.0);
    assert!(mean_where(&map, &d.object, true) > NOVEL);
    assert_inlier("bank, object-free frame", &drive_map(2, Some(&bank)));
}

#[test]
fn leave_one_out_scores_each_frame_against_the_others() {
    let d = drive();
    let bank = ReferenceBank::from_frames((0..FRAMES).map(cells));
    assert_eq!(bank.len(), FRAMES);
    for t in 0..FRAMES {
        let others = bank.without(t);
        assert_eq!(others.len(), FRAMES - 1);
        let map = drive_map(t, Some(&others));
        if t == WITH_OBJECT {
            assert_finds_object(&format!("leave-one-out, frame {t}"), &map, &d.object, 8.0);
        } else {
            assert_inlier(&format!("leave-one-out, frame {t}"), &map);
        }
    }
    // Without leaving it out, the frame finds itself: zero distance, the
    // calibration's offset everywhere.
    let offset = NoveltyConfig::default().bank_calibration.offset;
    let own = drive_map(WITH_OBJECT, Some(&bank));
    assert!(own.iter().all(|v| (v - offset).abs() < 1e-2));
}

/// The wgpu backend (where an adapter exists) gives the CPU's maps, both
/// modes: the k-th-neighbour search runs on the device's top-k reduction.
#[test]
fn every_backend_gives_the_same_maps() {
    let config = NoveltyConfig::default();
    let maps = |device: &Device| {
        let frame_cells_on = |t: usize| {
            let e = embedding_on(t, device);
            frame_cells(&e.embedding, &e.frame)
        };
        let bank = ReferenceBank::from_frames([frame_cells_on(0), frame_cells_on(1)]);
        let image = embedding_on(WITH_OBJECT, device);
        [
            to_vec(novelty_map(&image, None, &config)),
            to_vec(novelty_map(&image, Some(&bank), &config)),
        ]
    };
    let expected = maps(&Device::flex());
    for (backend, device) in devices().into_iter().skip(1) {
        for (mode, (actual, expected)) in ["lone", "bank"]
            .iter()
            .zip(maps(&device).iter().zip(&expected))
        {
            let err = max_abs_diff(actual, expected);
            eprintln!("{backend} {mode}: max abs difference {err:e}");
            assert!(err < 1e-2, "{backend} {mode}: max abs difference {err}");
        }
    }
}
