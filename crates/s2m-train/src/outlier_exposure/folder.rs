//! Outliers from plain folders: `<root>/images/NAME.png` (or `.jpg`,
//! `.jpeg`) with its mask `<root>/masks/NAME.png`, nonzero pixels the
//! object (any bit depth or colour type; read as 8-bit luma). One object
//! per pair, in name order.

use std::path::{Path, PathBuf};

use super::cityscapes::read_dir_sorted;
use super::dataset::ObjectSource;
use super::object::OeObject;
use super::{OeError, open_rgb};

const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The image and mask pairs of a folder.
#[derive(Clone, Debug)]
pub struct FolderObjects {
    pairs: Vec<(PathBuf, PathBuf)>,
}

impl FolderObjects {
    /// Lists the pairs; an image without its mask is an error.
    pub fn open(root: &Path) -> Result<Self, OeError> {
        let (images, masks) = (root.join("images"), root.join("masks"));
        for dir in [&images, &masks] {
            if !dir.is_dir() {
                return Err(OeError::dataset(
                    dir,
                    "no such folder: expected <root>/images/NAME.(png|jpg) and <root>/masks/NAME.png",
                ));
            }
        }
        let mut pairs = Vec::new();
        for image in read_dir_sorted(&images)? {
            let is_image = image
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if !(is_image && image.is_file()) {
                continue;
            }
            let stem = image.file_stem().unwrap_or_default();
            let mask = masks.join(stem).with_extension("png");
            if !mask.is_file() {
                return Err(OeError::dataset(
                    &image,
                    format!("has no mask {}", mask.display()),
                ));
            }
            pairs.push((image, mask));
        }
        if pairs.is_empty() {
            return Err(OeError::dataset(
                &images,
                "no .png or .jpg images in this folder",
            ));
        }
        Ok(Self { pairs })
    }
}

impl ObjectSource for FolderObjects {
    fn len(&self) -> usize {
        self.pairs.len()
    }

    fn object(&self, index: usize) -> Result<OeObject, OeError> {
        let (image_path, mask_path) = &self.pairs[index];
        let image = open_rgb(image_path)?;
        let mask = image::ImageReader::open(mask_path)
            .map_err(OeError::io(mask_path))?
            .decode()
            .map_err(|source| OeError::Image {
                path: mask_path.clone(),
                source,
            })?
            .into_luma8();
        OeObject::cut(&mask_path.display().to_string(), &image, &mask)
    }

    fn describe(&self, index: usize) -> String {
        self.pairs[index].0.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlier_exposure::test_data::{coordinate_image, rect_mask, write_gray, write_rgb};

    #[test]
    fn pairs_images_with_masks_by_name() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write_rgb(&r.join("images/b.png"), &coordinate_image(6, 8, 2));
        write_rgb(&r.join("images/a.jpg"), &coordinate_image(6, 8, 1));
        std::fs::write(r.join("images/notes.txt"), "not an image").unwrap();
        write_gray(&r.join("masks/a.png"), &rect_mask(6, 8, [1, 1, 3, 4]));
        write_gray(&r.join("masks/b.png"), &rect_mask(6, 8, [4, 2, 8, 6]));
        let objects = FolderObjects::open(r).unwrap();
        assert_eq!(objects.len(), 2);
        assert!(objects.describe(0).ends_with("a.jpg"));
        let b = objects.object(1).unwrap();
        assert_eq!(b.image.dimensions(), (4, 4));
        assert_eq!(b.image.get_pixel(0, 0).0, [4, 2, 2]);
        assert!(b.mask.pixels().all(|p| p.0[0] == 255));
    }

    #[test]
    fn missing_folders_masks_and_size_mismatches_are_clear_errors() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let err = FolderObjects::open(r).unwrap_err();
        assert!(err.to_string().contains("images: no such folder"), "{err}");

        write_rgb(&r.join("images/a.png"), &coordinate_image(6, 8, 1));
        std::fs::create_dir_all(r.join("masks")).unwrap();
        let err = FolderObjects::open(r).unwrap_err();
        assert!(err.to_string().contains("has no mask"), "{err}");

        write_gray(&r.join("masks/a.png"), &rect_mask(5, 8, [1, 1, 3, 4]));
        let objects = FolderObjects::open(r).unwrap();
        let err = objects.object(0).unwrap_err();
        assert!(
            err.to_string()
                .contains("the mask is 8x5 but the image is 8x6"),
            "{err}"
        );

        std::fs::write(r.join("masks/a.png"), "not a png").unwrap();
        let err = objects.object(0).unwrap_err();
        assert!(err.to_string().contains("masks/a.png"), "{err}");
    }
}
