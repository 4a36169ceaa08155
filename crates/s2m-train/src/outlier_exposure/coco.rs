//! The outliers of OE: COCO objects whose category is not a Cityscapes
//! class, read from the official layout `<root>/annotations/
//! instances_<split>.json` with the images in `<root>/<split>/`.
//!
//! The reference (Meta-OoD's `prepare_coco_segmentation.py`, whose
//! `annotations/ood_seg_<split>` masks PEBAL, RPL and S2M read):
//! - excludes the COCO categories that are Cityscapes classes,
//!   [`COCO_CITYSCAPES_CLASSES`]: person, bicycle, car, motorcycle, bus,
//!   truck, traffic light, stop sign. COCO's `train` is a Cityscapes class
//!   too but is not on the reference's list; add it to
//!   [`CocoConfig::exclude`] to leave trains out;
//! - drops every image that contains an instance of an excluded category
//!   and every image under 480 pixels high or wide;
//! - unites all instances of a kept image (crowds included) into one
//!   object mask, so "one object per image" is one COCO image's objects.
//!
//! [`CocoGrouping::Image`] (the default) does the same;
//! [`CocoGrouping::Instance`] makes each kept instance (crowds included
//! unless [`CocoConfig::skip_crowds`]) an object of its own, also from
//! images that show an excluded category elsewhere. Objects come in the
//! order of the JSON's `images`, then `annotations`.

use std::path::{Path, PathBuf};

use image::GrayImage;
use serde::{Deserialize, Serialize};

use super::coco_mask::Segmentation;
use super::dataset::ObjectSource;
use super::object::OeObject;
use super::{OeError, open_rgb};

/// The COCO categories the reference excludes as Cityscapes classes.
pub const COCO_CITYSCAPES_CLASSES: [&str; 8] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "bus",
    "truck",
    "traffic light",
    "stop sign",
];

/// What makes one pasted object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CocoGrouping {
    /// All instances of an image without excluded categories (reference).
    Image,
    /// Each instance of a category that is not excluded.
    Instance,
}

/// How COCO is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CocoConfig {
    /// `train2017`, `val2017`, ...: the JSON's and the image folder's name.
    pub split: String,
    /// Category names left out (see the module docs).
    pub exclude: Vec<String>,
    pub grouping: CocoGrouping,
    /// Images smaller than this on either side are skipped (reference:
    /// 480, `COCO.min_image_size`).
    pub min_image_side: u32,
    /// Leave `iscrowd = 1` annotations out (the reference keeps them).
    pub skip_crowds: bool,
}

impl Default for CocoConfig {
    fn default() -> Self {
        Self {
            split: "train2017".into(),
            exclude: COCO_CITYSCAPES_CLASSES.map(String::from).to_vec(),
            grouping: CocoGrouping::Image,
            min_image_side: 480,
            skip_crowds: false,
        }
    }
}

#[derive(Deserialize)]
struct Instances {
    images: Vec<ImageInfo>,
    annotations: Vec<Annotation>,
    categories: Vec<Category>,
}

#[derive(Deserialize)]
struct ImageInfo {
    id: u64,
    file_name: String,
    height: u32,
    width: u32,
}

#[derive(Deserialize)]
struct Annotation {
    id: u64,
    image_id: u64,
    category_id: u64,
    segmentation: Segmentation,
    #[serde(default)]
    iscrowd: u8,
}

#[derive(Deserialize)]
struct Category {
    id: u64,
    name: String,
}

/// One object: an image and the instances whose union it is.
#[derive(Clone, Debug)]
struct Entry {
    image: PathBuf,
    height: u32,
    width: u32,
    annotation_ids: Vec<u64>,
    segmentations: Vec<Segmentation>,
}

/// The COCO objects of one split, after the exclusion.
#[derive(Clone, Debug)]
pub struct CocoObjects {
    entries: Vec<Entry>,
}

impl CocoObjects {
    /// Reads `<root>/annotations/instances_<split>.json` and keeps the
    /// objects `config` asks for. Images are only opened by
    /// [`ObjectSource::object`].
    pub fn open(root: &Path, config: &CocoConfig) -> Result<Self, OeError> {
        let json = root
            .join("annotations")
            .join(format!("instances_{}.json", config.split));
        if !json.is_file() {
            return Err(OeError::dataset(
                &json,
                "no such file: expected COCO's <root>/annotations/instances_<split>.json",
            ));
        }
        let bytes = std::fs::read(&json).map_err(OeError::io(&json))?;
        let instances: Instances = serde_json::from_slice(&bytes)
            .map_err(|e| OeError::dataset(&json, format!("not a COCO instances file: {e}")))?;
        let images_dir = root.join(&config.split);
        let entries =
            select(instances, config, &images_dir).map_err(|p| OeError::dataset(&json, p))?;
        if entries.is_empty() {
            return Err(OeError::dataset(
                &json,
                format!(
                    "no objects left: every annotation is of an excluded category {:?}, \
                     a crowd, or in an image under {} px",
                    config.exclude, config.min_image_side
                ),
            ));
        }
        Ok(Self { entries })
    }

    /// The COCO annotation ids of object `index`.
    pub fn annotation_ids(&self, index: usize) -> &[u64] {
        &self.entries[index].annotation_ids
    }
}

/// Applies the exclusion and the grouping.
fn select(
    instances: Instances,
    config: &CocoConfig,
    images_dir: &Path,
) -> Result<Vec<Entry>, String> {
    let excluded: std::collections::HashSet<u64> = instances
        .categories
        .iter()
        .filter(|c| config.exclude.iter().any(|e| e == &c.name))
        .map(|c| c.id)
        .collect();
    let known: std::collections::HashSet<u64> = instances.categories.iter().map(|c| c.id).collect();
    let mut by_image: std::collections::HashMap<u64, Vec<Annotation>> = Default::default();
    for a in instances.annotations {
        if !known.contains(&a.category_id) {
            return Err(format!(
                "annotation {} has category {}, which is not in `categories`",
                a.id, a.category_id
            ));
        }
        by_image.entry(a.image_id).or_default().push(a);
    }
    let mut entries = Vec::new();
    for image in instances.images {
        let annotations = by_image.remove(&image.id).unwrap_or_default();
        if image.height.min(image.width) < config.min_image_side {
            continue;
        }
        let has_excluded = annotations
            .iter()
            .any(|a| excluded.contains(&a.category_id));
        let kept: Vec<Annotation> = annotations
            .into_iter()
            .filter(|a| !excluded.contains(&a.category_id))
            .filter(|a| !(config.skip_crowds && a.iscrowd == 1))
            .collect();
        let entry = |kept: Vec<Annotation>| Entry {
            image: images_dir.join(&image.file_name),
            height: image.height,
            width: image.width,
            annotation_ids: kept.iter().map(|a| a.id).collect(),
            segmentations: kept.into_iter().map(|a| a.segmentation).collect(),
        };
        match config.grouping {
            CocoGrouping::Image if !has_excluded && !kept.is_empty() => entries.push(entry(kept)),
            CocoGrouping::Image => {}
            CocoGrouping::Instance => entries.extend(kept.into_iter().map(|a| entry(vec![a]))),
        }
    }
    if let Some(id) = by_image.keys().min() {
        return Err(format!(
            "annotations refer to image {id}, which is not in `images`"
        ));
    }
    Ok(entries)
}

impl ObjectSource for CocoObjects {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn object(&self, index: usize) -> Result<OeObject, OeError> {
        let entry = &self.entries[index];
        let what = format!(
            "{} (COCO annotations {:?})",
            entry.image.display(),
            entry.annotation_ids
        );
        let image = open_rgb(&entry.image)?;
        if image.dimensions() != (entry.width, entry.height) {
            let (w, h) = image.dimensions();
            return Err(OeError::object(
                what,
                format!(
                    "the image is {w}x{h} but the annotations say {}x{} (width x height)",
                    entry.width, entry.height
                ),
            ));
        }
        let mut mask = GrayImage::new(entry.width, entry.height);
        for segmentation in &entry.segmentations {
            let one = segmentation
                .decode(entry.height, entry.width)
                .map_err(|problem| OeError::object(&what, problem))?;
            for (m, o) in mask.pixels_mut().zip(one.pixels()) {
                m.0[0] = m.0[0].max(o.0[0]);
            }
        }
        OeObject::cut(&what, &image, &mask)
    }

    fn describe(&self, index: usize) -> String {
        let entry = &self.entries[index];
        format!("{}#{:?}", entry.image.display(), entry.annotation_ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlier_exposure::test_data::{coordinate_image, write_rgb};

    /// A COCO root with three 8 x 10 images (min side lowered to 8):
    /// image 1 holds a dog (polygon) and a kite (compressed RLE), image 2 a
    /// car (excluded) next to a cat, image 3 a person only.
    fn fake_coco() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (name, base) in [("1.png", 1), ("2.png", 2), ("3.png", 3)] {
            write_rgb(
                &root.path().join("train2017").join(name),
                &coordinate_image(8, 10, base),
            );
        }
        // Kite: column-major runs on 8 rows: 8 * 6 + 2 background, then
        // rows 2..5 of column 6 object (3), then the rest (8 * 10 - 53 =
        // 27): counts [50, 3, 27], compressed "b13k0" (pycocotools'
        // `rleToString`).
        let json = r#"{
          "images": [
            {"id": 1, "file_name": "1.png", "height": 8, "width": 10},
            {"id": 2, "file_name": "2.png", "height": 8, "width": 10},
            {"id": 3, "file_name": "3.png", "height": 8, "width": 10}
          ],
          "annotations": [
            {"id": 11, "image_id": 1, "category_id": 18, "iscrowd": 0,
             "segmentation": [[1, 1, 4, 1, 4, 3, 1, 3]]},
            {"id": 12, "image_id": 1, "category_id": 38, "iscrowd": 1,
             "segmentation": {"size": [8, 10], "counts": "b13k0"}},
            {"id": 21, "image_id": 2, "category_id": 3, "iscrowd": 0,
             "segmentation": [[0, 0, 2, 0, 2, 2, 0, 2]]},
            {"id": 22, "image_id": 2, "category_id": 17, "iscrowd": 0,
             "segmentation": {"size": [8, 10], "counts": [70, 2, 8]}},
            {"id": 31, "image_id": 3, "category_id": 1, "iscrowd": 0,
             "segmentation": [[0, 0, 2, 0, 2, 2, 0, 2]]}
          ],
          "categories": [
            {"id": 1, "name": "person"}, {"id": 3, "name": "car"},
            {"id": 17, "name": "cat"}, {"id": 18, "name": "dog"},
            {"id": 38, "name": "kite"}
          ]
        }"#;
        let annotations = root.path().join("annotations");
        std::fs::create_dir_all(&annotations).unwrap();
        std::fs::write(annotations.join("instances_train2017.json"), json).unwrap();
        root
    }

    fn small(grouping: CocoGrouping) -> CocoConfig {
        CocoConfig {
            grouping,
            min_image_side: 8,
            ..CocoConfig::default()
        }
    }

    #[test]
    fn the_compressed_counts_of_the_fixture_are_what_its_comment_says() {
        let counts = crate::outlier_exposure::decode_rle_string("b13k0").unwrap();
        assert_eq!(counts, [50, 3, 27]);
    }

    #[test]
    fn image_grouping_unites_the_instances_of_images_without_cityscapes_classes() {
        let root = fake_coco();
        let coco = CocoObjects::open(root.path(), &small(CocoGrouping::Image)).unwrap();
        // Image 2 shows a car and image 3 a person: both left out.
        assert_eq!(coco.len(), 1);
        assert_eq!(coco.annotation_ids(0), [11, 12]);
        let object = coco.object(0).unwrap();
        // Dog: columns 1..4, rows 1..3; kite: column 6, rows 2..5.
        assert_eq!(object.image.dimensions(), (6, 4));
        assert_eq!(object.image.get_pixel(0, 0).0, [1, 1, 1]);
        let on = |x, y| object.mask.get_pixel(x, y).0[0] > 0;
        assert!(on(0, 0) && on(2, 1) && on(5, 1) && on(5, 3));
        assert!(!on(3, 0) && !on(4, 2) && !on(5, 0) && !on(0, 2));
    }

    #[test]
    fn instance_grouping_keeps_every_instance_of_other_classes() {
        let root = fake_coco();
        let coco = CocoObjects::open(root.path(), &small(CocoGrouping::Instance)).unwrap();
        let ids: Vec<_> = (0..coco.len())
            .map(|i| coco.annotation_ids(i).to_vec())
            .collect();
        assert_eq!(ids, [vec![11], vec![12], vec![22]]);
        // The cat: counts [70, 2, 8] put rows 6..8 of column 8 on.
        let cat = coco.object(2).unwrap();
        assert_eq!(cat.image.dimensions(), (1, 2));
        assert_eq!(cat.image.get_pixel(0, 0).0, [8, 6, 2]);

        let no_crowds = CocoConfig {
            skip_crowds: true,
            ..small(CocoGrouping::Instance)
        };
        let coco = CocoObjects::open(root.path(), &no_crowds).unwrap();
        assert_eq!(coco.len(), 2);
    }

    #[test]
    fn the_reference_minimum_size_drops_small_images() {
        let root = fake_coco();
        let err = CocoObjects::open(root.path(), &CocoConfig::default()).unwrap_err();
        assert!(err.to_string().contains("no objects left"), "{err}");
    }

    #[test]
    fn missing_or_broken_json_and_bad_references_are_clear_errors() {
        let root = tempfile::tempdir().unwrap();
        let missing = CocoObjects::open(root.path(), &CocoConfig::default()).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("instances_train2017.json: no such file"),
            "{missing}"
        );

        let annotations = root.path().join("annotations");
        std::fs::create_dir_all(&annotations).unwrap();
        let file = annotations.join("instances_train2017.json");
        std::fs::write(&file, r#"{"images": [], "annotations": ["#).unwrap();
        let broken = CocoObjects::open(root.path(), &CocoConfig::default()).unwrap_err();
        assert!(
            broken.to_string().contains("not a COCO instances file"),
            "{broken}"
        );

        std::fs::write(
            &file,
            r#"{"images": [], "categories": [{"id": 1, "name": "dog"}], "annotations": [
                {"id": 5, "image_id": 9, "category_id": 1, "segmentation": [[0, 0, 1, 0, 1, 1]]}]}"#,
        )
        .unwrap();
        let dangling = CocoObjects::open(root.path(), &CocoConfig::default()).unwrap_err();
        assert!(dangling.to_string().contains("image 9"), "{dangling}");
    }

    #[test]
    fn an_image_of_another_size_than_annotated_is_an_error() {
        let root = fake_coco();
        write_rgb(
            &root.path().join("train2017/1.png"),
            &coordinate_image(8, 9, 1),
        );
        let coco = CocoObjects::open(root.path(), &small(CocoGrouping::Image)).unwrap();
        let err = coco.object(0).unwrap_err();
        assert!(
            err.to_string()
                .contains("the image is 9x8 but the annotations say 10x8"),
            "{err}"
        );
    }
}
