//! The score maps of the OE images, computed once by the frozen scorer
//! (REFERENCE.md, "Training the prompt generator (outlier exposure)") and
//! cached on disk, as training examples for the prompt generator.
//!
//! A scorer is any `Image -> ScoreMap`: a closure from an RGB image to its
//! row-major scores, one per pixel (the RPL/PEBAL network through
//! [`network_scorer`], a stub in tests, another method's maps). Its maps go
//! to `<cache>/<scorer>-<key>/`, where `key` is the first 16 hex digits of
//! SHA-256 over the OE set's fingerprint ([`OeDataset::fingerprint`]: the
//! config with its seed, the inlier paths, the objects) and the scorer's
//! name: sample `i` is `sample_<i>.npy` (float32 `[height, width]`, as
//! `s2m detect` reads it) beside `sample_<i>.json` (its size and label).
//! A later run with the same key reuses both files and neither composes
//! the image nor calls the scorer; any change of config, seed, inputs or
//! scorer name gives a new folder. Files are written under a temporary
//! name and renamed, so an interrupted run leaves no half-written map.

use std::fmt::Display;
use std::ops::Range;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use image::RgbImage;
use npyz::WriterBuilder;
use s2m_core::detector::boxes::Xyxy;
use s2m_core::score_map_file::ScoreMap;
use s2m_core::scorer::input::image_to_input;
use s2m_core::scorer::{DeepWv3Plus, ScoreFunction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::OeError;
use super::cityscapes::read_dir_sorted;
use super::dataset::OeDataset;
use crate::training::step::TrainingExample;

/// The label file beside each cached map.
#[derive(Serialize, Deserialize)]
struct Label {
    height: usize,
    width: usize,
    /// Tight box of the pasted object; `None` when it vanished.
    label: Option<Xyxy>,
    /// Boxes of any further objects (frames with several, written by
    /// [`write_cached_example`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    more_boxes: Vec<Xyxy>,
    scale: f32,
    mirrored: bool,
}

/// Where the maps went and how many were computed or reused.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedScoring {
    pub dir: PathBuf,
    pub computed: usize,
    pub reused: usize,
}

/// The training examples of samples `indices` of `dataset`, scored by
/// `scorer` (named `scorer_name`) or read from the cache under
/// `cache_root`: values = the score map, boxes = the label box, classes =
/// 0 (the OoD class); no box when the object vanished at its scale.
pub fn scored_examples<F, E>(
    dataset: &OeDataset,
    indices: Range<usize>,
    cache_root: &Path,
    scorer_name: &str,
    mut scorer: F,
) -> Result<(Vec<TrainingExample>, CachedScoring), OeError>
where
    F: FnMut(&RgbImage) -> Result<Vec<f32>, E>,
    E: Display,
{
    let dir = cache_root.join(cache_folder(dataset, scorer_name));
    std::fs::create_dir_all(&dir).map_err(OeError::io(&dir))?;
    let mut report = CachedScoring {
        dir: dir.clone(),
        computed: 0,
        reused: 0,
    };
    let mut examples = Vec::with_capacity(indices.len());
    for index in indices {
        let map_path = dir.join(format!("sample_{index:06}.npy"));
        let label_path = dir.join(format!("sample_{index:06}.json"));
        let (values, label) = if map_path.is_file() && label_path.is_file() {
            report.reused += 1;
            read_cached(&map_path, &label_path)?
        } else {
            let sample = dataset.sample(index)?;
            let (width, height) = sample.image.dimensions();
            let (height, width) = (height as usize, width as usize);
            let scorer_error = |problem: String| OeError::Scorer {
                scorer: scorer_name.to_owned(),
                index,
                problem,
            };
            let values = scorer(&sample.image).map_err(|e| scorer_error(e.to_string()))?;
            if values.len() != height * width {
                return Err(scorer_error(format!(
                    "returned {} scores for a {width}x{height} image",
                    values.len()
                )));
            }
            let label = Label {
                height,
                width,
                label: sample.label,
                more_boxes: Vec::new(),
                scale: sample.scale,
                mirrored: sample.mirrored,
            };
            write_npy(&map_path, height, width, &values)?;
            let json = serde_json::to_vec_pretty(&label).expect("labels serialise");
            write_atomically(&label_path, &json)?;
            report.computed += 1;
            (values, label)
        };
        examples.push(example_of(values, &label));
    }
    Ok((examples, report))
}

/// The training examples of every map cached in `dir` (one
/// `<scorer>-<key>` folder that [`scored_examples`] filled), in sample
/// order; a folder without maps is an error that names the cache folders
/// inside it, if any (the cache root instead of one of its folders).
pub fn cached_examples(dir: &Path) -> Result<Vec<TrainingExample>, OeError> {
    let mut samples = Vec::new();
    let mut folders = Vec::new();
    for path in read_dir_sorted(dir)? {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let index = name
            .strip_prefix("sample_")
            .and_then(|n| n.strip_suffix(".npy"))
            .and_then(|n| n.parse::<usize>().ok());
        match index {
            Some(index) if path.is_file() => samples.push((index, path)),
            _ if path.is_dir() => folders.push(name.to_owned()),
            _ => {}
        }
    }
    if samples.is_empty() {
        let hint = if folders.is_empty() {
            "run `s2m outlier-exposure` to fill it".to_owned()
        } else {
            format!("pass one of its folders: {}", folders.join(", "))
        };
        return Err(OeError::dataset(
            dir,
            format!("no cached OE maps (sample_<i>.npy); {hint}"),
        ));
    }
    samples.sort();
    samples
        .into_iter()
        .map(|(_, map_path)| {
            let (values, label) = read_cached(&map_path, &map_path.with_extension("json"))?;
            Ok(example_of(values, &label))
        })
        .collect()
}

/// values = the score map, boxes = the label box, classes = 0 (the OoD
/// class); no box when the object vanished at its scale.
fn example_of(values: Vec<f32>, label: &Label) -> TrainingExample {
    TrainingExample {
        height: label.height,
        width: label.width,
        values,
        boxes: label
            .label
            .iter()
            .chain(&label.more_boxes)
            .copied()
            .collect(),
        classes: label
            .label
            .iter()
            .chain(&label.more_boxes)
            .map(|_| 0)
            .collect(),
    }
}

/// Writes `example` (its map and boxes, every box of the OoD class) as
/// sample `index` of the cache folder `dir`, which [`cached_examples`]
/// reads: maps of frames prepared elsewhere (e.g. the anomaly head's maps
/// of road frames with several pasted objects).
pub fn write_cached_example(
    dir: &Path,
    index: usize,
    example: &TrainingExample,
) -> Result<(), OeError> {
    std::fs::create_dir_all(dir).map_err(OeError::io(dir))?;
    let label = Label {
        height: example.height,
        width: example.width,
        label: example.boxes.first().copied(),
        more_boxes: example.boxes.iter().skip(1).copied().collect(),
        scale: 1.0,
        mirrored: false,
    };
    let map_path = dir.join(format!("sample_{index:06}.npy"));
    write_npy(&map_path, example.height, example.width, &example.values)?;
    let json = serde_json::to_vec_pretty(&label).expect("labels serialise");
    write_atomically(&map_path.with_extension("json"), &json)
}

/// `<scorer>-<key>`, the scorer's name reduced to file-name characters.
fn cache_folder(dataset: &OeDataset, scorer_name: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(dataset.fingerprint().as_bytes());
    hash.update([0]);
    hash.update(scorer_name.as_bytes());
    let key: String = hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name: String = scorer_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}-{key}")
}

fn read_cached(map_path: &Path, label_path: &Path) -> Result<(Vec<f32>, Label), OeError> {
    let bytes = std::fs::read(label_path).map_err(OeError::io(label_path))?;
    let label: Label = serde_json::from_slice(&bytes).map_err(|e| {
        OeError::dataset(
            label_path,
            format!("corrupt cached label (delete it to recompute): {e}"),
        )
    })?;
    let bytes = std::fs::read(map_path).map_err(OeError::io(map_path))?;
    let map = ScoreMap::from_bytes(&bytes, &map_path.display().to_string())
        .and_then(|map| map.expect_size(label.height, label.width).map(|()| map))
        .map_err(|e| {
            OeError::dataset(
                map_path,
                format!("corrupt cached map (delete it to recompute): {e}"),
            )
        })?;
    Ok((map.values, label))
}

/// Writes a float32 `[height, width]` `.npy` (NumPy's `np.save` format).
fn write_npy(path: &Path, height: usize, width: usize, values: &[f32]) -> Result<(), OeError> {
    let mut bytes = Vec::new();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[height as u64, width as u64])
        .writer(&mut bytes)
        .begin_nd()
        .map_err(OeError::io(path))?;
    writer
        .extend(values.iter().copied())
        .map_err(OeError::io(path))?;
    writer.finish().map_err(OeError::io(path))?;
    write_atomically(path, &bytes)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), OeError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(OeError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(OeError::io(path))
}

/// The RPL/PEBAL network as a scorer: the image normalised as its test
/// scripts do ([`image_to_input`]), `function` over the first 19 logits,
/// the Gaussian blur ([`DeepWv3Plus::score_map`]).
pub fn network_scorer<'n>(
    network: &'n DeepWv3Plus,
    function: ScoreFunction,
    device: &'n Device,
) -> impl FnMut(&RgbImage) -> Result<Vec<f32>, String> + 'n {
    move |image| {
        let (w, h) = image.dimensions();
        let input = image_to_input(image.as_raw(), h as usize, w as usize, device);
        let map = network.score_map(input, function);
        pollster::block_on(s2m_core::readback::read_f32(map, "OE score map"))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlier_exposure::OeConfig;
    use crate::outlier_exposure::test_data::{Squares, write_png};
    use std::cell::Cell;

    /// A scorer that counts its calls: red pixels score 1, others 0.
    fn redness(calls: &Cell<usize>) -> impl FnMut(&RgbImage) -> Result<Vec<f32>, String> + '_ {
        move |image| {
            calls.set(calls.get() + 1);
            Ok(image
                .pixels()
                .map(|p| f32::from(p.0 == [255, 0, 0]))
                .collect())
        }
    }

    fn fixture(dir: &Path) -> Vec<PathBuf> {
        (0..3)
            .map(|i| {
                let path = dir.join(format!("inlier_{i}.png"));
                write_png(&path, 30, 40, [10 * i as u8, 90, 90]);
                path
            })
            .collect()
    }

    fn config(seed: u64) -> OeConfig {
        OeConfig {
            height: 24,
            width: 32,
            scales: vec![2.0],
            seed,
            ..OeConfig::default()
        }
    }

    #[test]
    fn maps_are_scored_once_and_reused_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let inliers = fixture(dir.path());
        let objects = Squares(3);
        let set = OeDataset::new(config(1), inliers.clone(), &objects).unwrap();
        let cache = dir.path().join("cache");
        let calls = Cell::new(0);

        let (first, report) = scored_examples(&set, 0..3, &cache, "red", redness(&calls)).unwrap();
        assert_eq!(calls.get(), 3);
        assert_eq!((report.computed, report.reused), (3, 0));
        for (index, example) in first.iter().enumerate() {
            assert_eq!((example.height, example.width), (24, 32));
            assert_eq!(example.classes, [0]);
            // The label box holds exactly the red (= 1) scores.
            let [x0, y0, x1, y1] = example.boxes[0];
            let sample = set.sample(index).unwrap();
            assert_eq!(sample.label, Some(example.boxes[0]));
            for y in 0..24 {
                for x in 0..32 {
                    let inside = (x0..x1).contains(&(x as f32)) && (y0..y1).contains(&(y as f32));
                    assert_eq!(example.values[y * 32 + x], f32::from(inside), "({x}, {y})");
                }
            }
        }

        calls.set(0);
        let (second, report) = scored_examples(&set, 0..3, &cache, "red", redness(&calls)).unwrap();
        assert_eq!(calls.get(), 0, "the second pass reads every map from disk");
        assert_eq!((report.computed, report.reused), (0, 3));
        assert_eq!(second, first);
        assert_eq!(cached_examples(&report.dir).unwrap(), first);

        // Another seed or another scorer name: another folder, new maps.
        let reseeded = OeDataset::new(config(2), inliers, &objects).unwrap();
        let (_, other) = scored_examples(&reseeded, 0..1, &cache, "red", redness(&calls)).unwrap();
        let (_, renamed) = scored_examples(&set, 0..1, &cache, "red v2", redness(&calls)).unwrap();
        assert_eq!(calls.get(), 2);
        assert_ne!(other.dir, report.dir);
        assert!(
            renamed
                .dir
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("red_v2-")
        );
    }

    #[test]
    fn reading_a_folder_without_maps_says_what_to_pass() {
        let dir = tempfile::tempdir().unwrap();
        let err = cached_examples(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("no cached OE maps (sample_<i>.npy); run `s2m outlier-exposure`"),
            "{err}"
        );
        let objects = Squares(1);
        let set = OeDataset::new(config(1), fixture(dir.path()), &objects).unwrap();
        let cache = dir.path().join("cache");
        let calls = Cell::new(0);
        let (_, report) = scored_examples(&set, 0..1, &cache, "red", redness(&calls)).unwrap();
        let err = cached_examples(&cache).unwrap_err();
        let folder = report.dir.file_name().unwrap().to_str().unwrap();
        assert!(
            err.to_string()
                .contains(&format!("pass one of its folders: {folder}")),
            "{err}"
        );
        let err = cached_examples(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }

    #[test]
    fn cached_maps_are_npy_files_that_s2m_reads() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Squares(1);
        let set = OeDataset::new(config(1), fixture(dir.path()), &objects).unwrap();
        let calls = Cell::new(0);
        let (examples, report) =
            scored_examples(&set, 2..3, dir.path(), "red", redness(&calls)).unwrap();
        let bytes = std::fs::read(report.dir.join("sample_000002.npy")).unwrap();
        let map = ScoreMap::from_bytes(&bytes, "sample_000002.npy").unwrap();
        assert_eq!((map.height, map.width), (24, 32));
        assert_eq!(map.values, examples[0].values);
    }

    #[test]
    fn scorer_failures_and_wrong_sizes_are_errors_naming_the_sample() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Squares(1);
        let set = OeDataset::new(config(1), fixture(dir.path()), &objects).unwrap();
        let failing = |_: &RgbImage| Err::<Vec<f32>, _>("out of memory");
        let err = scored_examples(&set, 1..2, dir.path(), "bad", failing).unwrap_err();
        assert!(
            err.to_string()
                .contains("scorer bad failed on OE sample 1: out of memory"),
            "{err}"
        );
        let short = |_: &RgbImage| Ok::<_, String>(vec![0.0; 5]);
        let err = scored_examples(&set, 0..1, dir.path(), "short", short).unwrap_err();
        assert!(
            err.to_string()
                .contains("returned 5 scores for a 32x24 image"),
            "{err}"
        );
    }

    #[test]
    fn examples_with_several_boxes_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let boxes = vec![[1.0, 2.0, 5.0, 6.0], [7.0, 0.0, 9.0, 3.0]];
        let example = TrainingExample {
            height: 4,
            width: 10,
            values: (0..40).map(|v| v as f32 / 40.0).collect(),
            boxes: boxes.clone(),
            classes: vec![0, 0],
        };
        write_cached_example(dir.path(), 0, &example).unwrap();
        let empty = TrainingExample {
            boxes: Vec::new(),
            classes: Vec::new(),
            ..example.clone()
        };
        write_cached_example(dir.path(), 1, &empty).unwrap();
        assert_eq!(cached_examples(dir.path()).unwrap(), vec![example, empty]);
    }
}
