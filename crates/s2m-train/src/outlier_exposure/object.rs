//! An outlier ready to paste: an image and its mask cut out by the box of
//! the mask (PEBAL/RPL `mix_object`: `extract_bboxes`, then
//! `cut_object_image[y1:y2, x1:x2]`).

use image::{GrayImage, RgbImage, imageops};

use super::OeError;
use super::paste::tight_box;

/// An object and its mask, both cropped to the tight box of the mask:
/// mask pixels are 255 on the object, 0 elsewhere.
#[derive(Clone, Debug, PartialEq)]
pub struct OeObject {
    pub image: RgbImage,
    pub mask: GrayImage,
}

impl OeObject {
    /// Cuts the object out of `image` by the box of `mask`'s nonzero
    /// pixels. `what` names the object in errors: a mask of another size
    /// than the image, or one without any object pixel.
    pub fn cut(what: &str, image: &RgbImage, mask: &GrayImage) -> Result<Self, OeError> {
        if image.dimensions() != mask.dimensions() {
            let ((iw, ih), (mw, mh)) = (image.dimensions(), mask.dimensions());
            return Err(OeError::object(
                what,
                format!("the mask is {mw}x{mh} but the image is {iw}x{ih} (width x height)"),
            ));
        }
        let Some([x0, y0, x1, y1]) = tight_box(mask) else {
            return Err(OeError::object(what, "the mask has no object pixel"));
        };
        let (w, h) = (x1 - x0, y1 - y0);
        let mut cut_mask = imageops::crop_imm(mask, x0, y0, w, h).to_image();
        cut_mask
            .pixels_mut()
            .for_each(|p| p.0[0] = if p.0[0] > 0 { 255 } else { 0 });
        Ok(Self {
            image: imageops::crop_imm(image, x0, y0, w, h).to_image(),
            mask: cut_mask,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlier_exposure::test_data::{coordinate_image, rect_mask};

    #[test]
    fn cuts_image_and_mask_by_the_box_of_the_mask() {
        let image = coordinate_image(10, 12, 7);
        let mut mask = rect_mask(10, 12, [3, 2, 7, 5]);
        mask.put_pixel(8, 6, image::Luma([1])); // any nonzero value is object
        let object = OeObject::cut("test", &image, &mask).unwrap();
        assert_eq!(object.image.dimensions(), (6, 5));
        assert_eq!(object.image.get_pixel(0, 0).0, [3, 2, 7]);
        assert_eq!(object.mask.get_pixel(5, 4).0, [255]);
        assert_eq!(object.mask.get_pixel(4, 3).0, [0]);
    }

    #[test]
    fn size_mismatch_and_empty_masks_are_errors() {
        let image = coordinate_image(10, 12, 7);
        let wrong = OeObject::cut("a.png", &image, &rect_mask(10, 11, [0, 0, 2, 2])).unwrap_err();
        assert!(
            wrong.to_string().contains("a.png: the mask is 11x10"),
            "{wrong}"
        );
        let empty = OeObject::cut("b.png", &image, &GrayImage::new(12, 10)).unwrap_err();
        assert!(empty.to_string().contains("no object pixel"), "{empty}");
    }
}
