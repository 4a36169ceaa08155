//! The inlier images of OE: Cityscapes in its official folder layout,
//! `<root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png`
//! (2975 images in `train`, REFERENCE.md). RPL and S2M read the same
//! images from their own re-arranged copy (`images/city_gt_fine/<split>`);
//! only the images are needed here, not the labels.

use std::path::{Path, PathBuf};

use super::OeError;

const SUFFIX: &str = "_leftImg8bit.png";

/// The images of one split, sorted by path (cities, then frames), so that
/// sample indices mean the same images on every machine.
pub fn list_cityscapes_images(root: &Path, split: &str) -> Result<Vec<PathBuf>, OeError> {
    let split_dir = root.join("leftImg8bit").join(split);
    if !split_dir.is_dir() {
        return Err(OeError::dataset(
            &split_dir,
            format!(
                "no such folder: expected the Cityscapes layout \
                 <root>/leftImg8bit/{split}/<city>/*{SUFFIX}"
            ),
        ));
    }
    let mut images = Vec::new();
    for city in read_dir_sorted(&split_dir)? {
        if !city.is_dir() {
            continue;
        }
        for file in read_dir_sorted(&city)? {
            let is_image = file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(SUFFIX));
            if is_image && file.is_file() {
                images.push(file);
            }
        }
    }
    if images.is_empty() {
        return Err(OeError::dataset(
            &split_dir,
            format!("no <city>/*{SUFFIX} images in this folder"),
        ));
    }
    Ok(images)
}

/// The entries of a folder, sorted.
pub(super) fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, OeError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(OeError::io(dir))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(OeError::io(dir))?;
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlier_exposure::test_data::write_png;

    #[test]
    fn lists_the_images_of_every_city_in_order() {
        let root = tempfile::tempdir().unwrap();
        let train = root.path().join("leftImg8bit/train");
        for name in [
            "zurich/zurich_000001_000019_leftImg8bit.png",
            "aachen/aachen_000000_000019_leftImg8bit.png",
            "aachen/aachen_000001_000019_leftImg8bit.png",
        ] {
            write_png(&train.join(name), 4, 6, [10, 20, 30]);
        }
        // Not inlier images: a label file and a stray file at split level.
        write_png(
            &train.join("aachen/aachen_000000_000019_gtFine_color.png"),
            4,
            6,
            [0; 3],
        );
        write_png(&train.join("stray_leftImg8bit.png"), 4, 6, [0; 3]);

        let images = list_cityscapes_images(root.path(), "train").unwrap();
        let names: Vec<_> = images
            .iter()
            .map(|p| p.strip_prefix(&train).unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "aachen/aachen_000000_000019_leftImg8bit.png",
                "aachen/aachen_000001_000019_leftImg8bit.png",
                "zurich/zurich_000001_000019_leftImg8bit.png",
            ]
        );
    }

    #[test]
    fn a_missing_or_empty_split_is_a_clear_error() {
        let root = tempfile::tempdir().unwrap();
        let missing = list_cityscapes_images(root.path(), "train").unwrap_err();
        assert!(missing.to_string().contains("no such folder"), "{missing}");
        assert!(missing.to_string().contains("leftImg8bit"), "{missing}");

        std::fs::create_dir_all(root.path().join("leftImg8bit/train/aachen")).unwrap();
        let empty = list_cityscapes_images(root.path(), "train").unwrap_err();
        assert!(
            empty.to_string().contains("no <city>/*_leftImg8bit.png"),
            "{empty}"
        );
    }
}
