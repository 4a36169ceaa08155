//! The frames the head trains on: a frame whose pixels are labelled road
//! scene (0), anomaly (1) or void ([`VOID`]); the inlier frames objects
//! are pasted on, with their semantic class map (where the ground is, what
//! is void); and the objects cut out of labelled frames.

use std::path::Path;

use image::{GrayImage, Luma, RgbImage};

use super::{HeadError, VOID};
use crate::outlier_exposure::OeObject;

/// A frame and its labels (0 / 1 / [`VOID`]), of the same size.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledFrame {
    pub name: String,
    pub image: RgbImage,
    pub labels: GrayImage,
}

/// An inlier road frame and its semantic classes (e.g. CamVid's 11
/// classes, with `ground` and `void` values given by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct RoadFrame {
    pub name: String,
    pub image: RgbImage,
    pub classes: GrayImage,
}

/// The frames in `images` whose class map of the same file name is in
/// `classes` (CamVid's `train` + `trainannot`), by file name. Images
/// without a class map are errors naming them.
pub fn read_road_frames(images: &Path, classes: &Path) -> Result<Vec<RoadFrame>, HeadError> {
    let mut names: Vec<_> = std::fs::read_dir(images)
        .map_err(|e| HeadError::input(images, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let file = path.file_name().unwrap_or_default();
            let class_path = classes.join(file);
            let image = open(&path)?.into_rgb8();
            let classes = open(&class_path)?.into_luma8();
            if image.dimensions() != classes.dimensions() {
                return Err(HeadError::input(
                    &class_path,
                    format!(
                        "{:?} classes for a {:?} image (width, height)",
                        classes.dimensions(),
                        image.dimensions()
                    ),
                ));
            }
            Ok(RoadFrame {
                name: file.to_string_lossy().into_owned(),
                image,
                classes,
            })
        })
        .collect()
}

fn open(path: &Path) -> Result<image::DynamicImage, HeadError> {
    image::ImageReader::open(path)
        .map_err(|e| HeadError::input(path, e))?
        .with_guessed_format()
        .map_err(|e| HeadError::input(path, e))?
        .decode()
        .map_err(|e| HeadError::input(path, e))
}

/// The 8-connected components of the anomaly pixels (label 1) of
/// `labels`, each as its pixel indices (row-major).
fn anomaly_components(labels: &GrayImage) -> Vec<Vec<usize>> {
    let (w, h) = labels.dimensions();
    let raw = labels.as_raw();
    let mut seen = vec![false; raw.len()];
    let mut components = Vec::new();
    for start in 0..raw.len() {
        if seen[start] || raw[start] != 1 {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut pixels = Vec::new();
        while let Some(p) = stack.pop() {
            pixels.push(p);
            let (x, y) = ((p as u32 % w) as i64, (p as u32 / w) as i64);
            for (dx, dy) in [
                (-1, -1),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let q = (ny as u32 * w + nx as u32) as usize;
                if !seen[q] && raw[q] == 1 {
                    seen[q] = true;
                    stack.push(q);
                }
            }
        }
        components.push(pixels);
    }
    components
}

/// The anomalous objects of `frame`: each 8-connected component of its
/// anomaly pixels with at least `min_pixels` pixels, cut out by its box.
pub fn cut_objects(frame: &LabelledFrame, min_pixels: usize) -> Vec<OeObject> {
    let (w, h) = frame.labels.dimensions();
    anomaly_components(&frame.labels)
        .into_iter()
        .filter(|pixels| pixels.len() >= min_pixels)
        .filter_map(|pixels| {
            let mut mask = GrayImage::new(w, h);
            for p in pixels {
                mask.put_pixel(p as u32 % w, p as u32 / w, Luma([255]));
            }
            OeObject::cut(&frame.name, &frame.image, &mask).ok()
        })
        .collect()
}

/// The tight box `[x0, y0, x1, y1]` (x1, y1 one past the last pixel) of
/// each 8-connected anomaly component of `labels` with at least
/// `min_pixels` pixels: the objects a prompt generator should find.
pub fn object_boxes(labels: &GrayImage, min_pixels: usize) -> Vec<[f32; 4]> {
    let w = labels.width() as usize;
    anomaly_components(labels)
        .into_iter()
        .filter(|pixels| pixels.len() >= min_pixels)
        .map(|pixels| {
            let xs = pixels.iter().map(|p| p % w);
            let ys = pixels.iter().map(|p| p / w);
            [
                xs.clone().min().unwrap_or(0) as f32,
                ys.clone().min().unwrap_or(0) as f32,
                (xs.max().unwrap_or(0) + 1) as f32,
                (ys.max().unwrap_or(0) + 1) as f32,
            ]
        })
        .collect()
}

/// The labels of an inlier frame before anything is pasted: [`VOID`]
/// where its class is `void`, 0 elsewhere.
pub fn inlier_labels(frame: &RoadFrame, void: Option<u8>) -> GrayImage {
    GrayImage::from_fn(frame.classes.width(), frame.classes.height(), |x, y| {
        let class = frame.classes.get_pixel(x, y).0[0];
        Luma([if Some(class) == void { VOID } else { 0 }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn objects_are_the_large_enough_components() {
        let mut labels = GrayImage::new(10, 8);
        for (x, y) in [(1, 1), (2, 2), (3, 3), (8, 6)] {
            labels.put_pixel(x, y, Luma([1])); // a diagonal chain, and a dot
        }
        labels.put_pixel(5, 5, Luma([VOID]));
        let frame = LabelledFrame {
            name: "f".into(),
            image: RgbImage::from_fn(10, 8, |x, y| Rgb([x as u8, y as u8, 0])),
            labels,
        };
        let objects = cut_objects(&frame, 2);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].image.dimensions(), (3, 3));
        assert_eq!(objects[0].image.get_pixel(0, 0).0, [1, 1, 0]);
        assert_eq!(objects[0].mask.get_pixel(1, 1).0, [255]);
        assert_eq!(objects[0].mask.get_pixel(2, 0).0, [0]);
        assert_eq!(cut_objects(&frame, 1).len(), 2);
        assert_eq!(
            object_boxes(&frame.labels, 1),
            vec![[1.0, 1.0, 4.0, 4.0], [8.0, 6.0, 9.0, 7.0]]
        );
    }

    #[test]
    fn road_frames_pair_images_and_classes_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let (images, classes) = (dir.path().join("train"), dir.path().join("trainannot"));
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(&classes).unwrap();
        RgbImage::new(6, 4).save(images.join("a.png")).unwrap();
        GrayImage::from_pixel(6, 4, Luma([11]))
            .save(classes.join("a.png"))
            .unwrap();
        let frames = read_road_frames(&images, &classes).unwrap();
        assert_eq!(frames.len(), 1);
        assert!(
            inlier_labels(&frames[0], Some(11))
                .pixels()
                .all(|p| p.0[0] == VOID)
        );

        RgbImage::new(6, 4).save(images.join("b.png")).unwrap();
        let missing = read_road_frames(&images, &classes).unwrap_err().to_string();
        assert!(missing.contains("b.png"), "{missing}");
    }
}
