//! The OE recipe (REFERENCE.md, "Training the prompt generator (outlier
//! exposure)"), step by step as RPL's and S2M's `Preprocess` runs it
//! (`inlier_transform`, `outlier_transform`, `mix_object`):
//!
//! 1. the inlier image is mirrored horizontally with probability
//!    [`OeConfig::mirror_probability`]: the reference's `random_mirror`
//!    flips when `random() >= 0.2`, so 0.8 (REFERENCE.md only says
//!    "randomly mirrored");
//! 2. it is cropped at a uniformly random position to at most
//!    `height` x `width` (`generate_random_crop_pos`) and padded, centred,
//!    to exactly that size (`pad_image_to_shape`) with
//!    [`OeConfig::pad_value`], black as the reference's `value=0`. The
//!    reference draws the offset from `randint(0, h - crop + 1)`, one past
//!    the last full crop (then pads one row); we draw from `0..=h - crop`;
//! 3. the object is scaled by a factor drawn uniformly from
//!    [`OeConfig::scales`] (`random.choice(ood_train_scale_array)`; 0.5 is
//!    listed twice, so it is drawn twice as often), bilinear for the image,
//!    nearest for the mask (`rescale.rs`). The reference scales the whole
//!    COCO frame, centre-crops it to the canvas when larger, then cuts the
//!    box of the mask; we cut first ([`OeObject`]), scale the cut-out and
//!    centre-crop it to the canvas when larger: the same object up to a
//!    pixel of interpolation at its border. An object that vanishes at its
//!    scale (less than one pixel) is pasted nowhere and the sample has no
//!    box, as in the reference;
//! 4. it is pasted at a uniformly random position where its box lies
//!    fully inside the canvas (`randint(0, H - h)`, both ends included),
//!    one object per image: `x = (1 - m) x_in + m x_out` with the binary
//!    mask `m`;
//! 5. the label is the tightest box around the pasted mask, `[x0, y0, x1,
//!    y1]` with `x1` = last column + 1 (PEBAL's `extract_bboxes`). S2M's
//!    detectron2 dataset takes `np.argwhere` minima and maxima as
//!    `[x0, y0, x1, y1]`, which swaps x and y and keeps the last pixel
//!    inclusive; we do not copy that.
//!
//! The draws come in the reference's order (mirror, crop, scale,
//! position) from one ChaCha8 stream per sample (`dataset.rs`).

use image::{GrayImage, Luma, Rgb, RgbImage, imageops};
use rand::Rng;
use rand::seq::IndexedRandom;
use s2m_core::detector::boxes::Xyxy;
use serde::{Deserialize, Serialize};

use super::object::OeObject;
use super::{OeError, rescale};

/// Every knob of the OE recipe; the defaults are the reference's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OeConfig {
    /// Canvas height in pixels (`city_image_height` = 700).
    pub height: u32,
    /// Canvas width in pixels (`city_image_width` = 700).
    pub width: u32,
    /// Probability of mirroring the inlier image (reference: 0.8).
    pub mirror_probability: f32,
    /// RGB of the padding where the inlier image is smaller than the
    /// canvas (reference: 0).
    pub pad_value: [u8; 3],
    /// Object scale factors, drawn uniformly (duplicates weigh more).
    pub scales: Vec<f32>,
    /// Seed of the whole OE set: sample `i` draws from stream `i`.
    pub seed: u64,
}

impl Default for OeConfig {
    fn default() -> Self {
        Self {
            height: 700,
            width: 700,
            mirror_probability: 0.8,
            pad_value: [0, 0, 0],
            scales: vec![0.25, 0.5, 0.5, 0.75, 0.1, 0.125],
            seed: 0,
        }
    }
}

impl OeConfig {
    /// Checks that the canvas is non-empty, the probability lies in
    /// `[0, 1]` and there are scale factors, all finite and positive.
    pub fn validate(&self) -> Result<(), OeError> {
        let invalid = |knob, problem: String| Err(OeError::InvalidConfig { knob, problem });
        if self.height == 0 || self.width == 0 {
            return invalid(
                "height/width",
                format!(
                    "= {}x{}, expected a non-empty canvas",
                    self.height, self.width
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.mirror_probability) {
            return invalid(
                "mirror_probability",
                format!("= {}, expected a value in [0, 1]", self.mirror_probability),
            );
        }
        if self.scales.is_empty() || self.scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return invalid(
                "scales",
                format!(
                    "= {:?}, expected one or more finite factors > 0",
                    self.scales
                ),
            );
        }
        Ok(())
    }
}

/// One OE image and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct OeSample {
    /// The composed image, `height` x `width`.
    pub image: RgbImage,
    /// The pasted object's pixels: 255 on the object, 0 elsewhere.
    pub mask: GrayImage,
    /// Tight box of `mask`; `None` when the object vanished at its scale.
    pub label: Option<Xyxy>,
    /// The drawn scale factor.
    pub scale: f32,
    /// Whether the inlier image was mirrored.
    pub mirrored: bool,
}

/// Composes one OE image from `inlier` and `object` with the draws of
/// `rng`. `config` must be valid ([`OeConfig::validate`]).
pub fn compose(
    config: &OeConfig,
    inlier: &RgbImage,
    object: &OeObject,
    rng: &mut impl Rng,
) -> OeSample {
    let (cw, ch) = (config.width, config.height);

    // 1-2. Mirror, crop, pad.
    let mirrored = rng.random::<f32>() < config.mirror_probability;
    let (iw, ih) = inlier.dimensions();
    let crop_y = if ih > ch {
        rng.random_range(0..=ih - ch)
    } else {
        0
    };
    let crop_x = if iw > cw {
        rng.random_range(0..=iw - cw)
    } else {
        0
    };
    let (crop_w, crop_h) = (iw.min(cw), ih.min(ch));
    let (pad_x, pad_y) = ((cw - crop_w) / 2, (ch - crop_h) / 2);
    let mut image = RgbImage::from_pixel(cw, ch, Rgb(config.pad_value));
    for y in 0..crop_h {
        for x in 0..crop_w {
            let sx = crop_x + x;
            let sx = if mirrored { iw - 1 - sx } else { sx };
            image.put_pixel(pad_x + x, pad_y + y, *inlier.get_pixel(sx, crop_y + y));
        }
    }

    // 3. Scale the object; centre-crop it to the canvas when larger.
    let scale = *config
        .scales
        .choose(rng)
        .expect("validated: scales are not empty");
    let (ow, oh) = rescale::scaled_size(object.image.dimensions(), scale);
    let mut mask = GrayImage::new(cw, ch);
    let scaled = (ow > 0 && oh > 0)
        .then(|| rescale::nearest(&object.mask, (ow, oh)))
        .and_then(|m| tight_box(&m).map(|b| (m, b)));
    let Some((scaled_mask, [mx0, my0, mx1, my1])) = scaled else {
        // The object vanished at this scale: nothing is pasted.
        return OeSample {
            image,
            mask,
            label: None,
            scale,
            mirrored,
        };
    };
    // The reference centre-crops with `x // 2 - crop // 2`.
    let (bw, bh) = ((mx1 - mx0).min(cw), (my1 - my0).min(ch));
    let (bx, by) = (
        mx0 + (mx1 - mx0) / 2 - bw / 2,
        my0 + (my1 - my0) / 2 - bh / 2,
    );
    let scaled_image = rescale::bilinear(&object.image, (ow, oh));
    let cut_image = imageops::crop_imm(&scaled_image, bx, by, bw, bh).to_image();
    let cut_mask = imageops::crop_imm(&scaled_mask, bx, by, bw, bh).to_image();

    // 4. Uniform position, fully inside; x = (1 - m) x_in + m x_out.
    let py = rng.random_range(0..=ch - bh);
    let px = rng.random_range(0..=cw - bw);
    for (x, y, m) in cut_mask.enumerate_pixels() {
        if m.0[0] > 0 {
            image.put_pixel(px + x, py + y, *cut_image.get_pixel(x, y));
            mask.put_pixel(px + x, py + y, Luma([255]));
        }
    }

    // 5. The label: the tight box of the pasted mask.
    let label = tight_box(&mask).map(|b| b.map(|v| v as f32));
    OeSample {
        image,
        mask,
        label,
        scale,
        mirrored,
    }
}

/// The tightest box `[x0, y0, x1, y1]` around the nonzero pixels of
/// `mask`, `x1` and `y1` one past the last ones; `None` without any.
pub fn tight_box(mask: &GrayImage) -> Option<[u32; 4]> {
    let mut b: Option<[u32; 4]> = None;
    for (x, y, p) in mask.enumerate_pixels() {
        if p.0[0] > 0 {
            b = Some(match b {
                None => [x, y, x + 1, y + 1],
                Some([x0, y0, x1, y1]) => [x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1)],
            });
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlier_exposure::test_data::{coordinate_image, rect_mask};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A 40 x 60 object: a disc-like blob whose pixels are red.
    fn blob() -> OeObject {
        let image = RgbImage::from_pixel(60, 40, Rgb([250, 0, 0]));
        let mask = GrayImage::from_fn(60, 40, |x, y| {
            let (dx, dy) = (x as f32 - 29.5, (y as f32 - 19.5) * 1.5);
            Luma([if dx * dx + dy * dy < 30.0 * 30.0 {
                255
            } else {
                0
            }])
        });
        OeObject::cut("blob", &image, &mask).unwrap()
    }

    fn config(height: u32, width: u32) -> OeConfig {
        OeConfig {
            height,
            width,
            ..OeConfig::default()
        }
    }

    #[test]
    fn output_has_the_canvas_size_and_the_box_is_tight_around_the_pasted_mask() {
        let inlier = coordinate_image(120, 200, 9);
        let object = blob();
        for seed in 0..20 {
            let sample = compose(
                &config(100, 90),
                &inlier,
                &object,
                &mut ChaCha8Rng::seed_from_u64(seed),
            );
            assert_eq!(sample.image.dimensions(), (90, 100));
            assert_eq!(sample.mask.dimensions(), (90, 100));
            let [x0, y0, x1, y1] = sample.label.expect("a 60 px object never vanishes");
            assert_eq!(
                tight_box(&sample.mask).map(|b| b.map(|v| v as f32)),
                Some([x0, y0, x1, y1])
            );
            // The box of a scaled disc is as large as the scaled object.
            let (w, h) = rescale::scaled_size((60, 40), sample.scale);
            assert!(((x1 - x0) - w as f32).abs() <= 1.0, "seed {seed}");
            assert!(((y1 - y0) - h as f32).abs() <= 1.0, "seed {seed}");
            assert!(x0 >= 0.0 && y0 >= 0.0 && x1 <= 90.0 && y1 <= 100.0);
        }
    }

    #[test]
    fn pixels_are_the_object_inside_the_mask_and_the_background_outside() {
        // The inlier pixel (x, y) is (x, y, 9), so every background pixel
        // names the inlier pixel it came from: mirrored, cropped, offset.
        let (iw, ih) = (200u32, 120u32);
        let inlier = coordinate_image(ih, iw, 9);
        let object = blob();
        let cfg = config(100, 90);
        let mut seen_mirrored = [false; 2];
        for seed in 0..20 {
            let sample = compose(&cfg, &inlier, &object, &mut ChaCha8Rng::seed_from_u64(seed));
            seen_mirrored[sample.mirrored as usize] = true;
            // Recover the crop offset from the top-left background pixel
            // of any unmasked row and check every pixel against it.
            let (x, y) = (0..90u32)
                .flat_map(|x| (0..100u32).map(move |y| (x, y)))
                .find(|&(x, y)| sample.mask.get_pixel(x, y).0[0] == 0)
                .unwrap();
            let p = sample.image.get_pixel(x, y).0;
            let src_x0 = if sample.mirrored {
                p[0] as u32 + x // source x = iw - 1 - (crop_x + x)
            } else {
                p[0] as u32 - x
            };
            let src_y0 = p[1] as u32 - y;
            for (x, y, m) in sample.mask.enumerate_pixels() {
                let got = sample.image.get_pixel(x, y).0;
                if m.0[0] > 0 {
                    assert_eq!(got, [250, 0, 0], "seed {seed} object pixel ({x}, {y})");
                } else {
                    let sx = if sample.mirrored {
                        src_x0 - x
                    } else {
                        src_x0 + x
                    };
                    assert_eq!(got, [sx as u8, (src_y0 + y) as u8, 9], "seed {seed}");
                }
            }
            assert!(src_y0 + 100 <= ih);
        }
        assert_eq!(seen_mirrored, [true, true], "20 seeds draw both");
    }

    #[test]
    fn small_inliers_are_padded_centred_with_the_pad_value() {
        let inlier = RgbImage::from_pixel(10, 6, Rgb([1, 2, 3]));
        let cfg = OeConfig {
            pad_value: [7, 7, 7],
            scales: vec![0.01], // the 60 x 40 blob vanishes
            ..config(12, 20)
        };
        let sample = compose(&cfg, &inlier, &blob(), &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(sample.label, None);
        assert_eq!(sample.mask.pixels().filter(|p| p.0[0] > 0).count(), 0);
        // 6 rows padded by 3 above and 3 below, 10 columns by 5 and 5.
        for (x, y, p) in sample.image.enumerate_pixels() {
            let inside = (5..15).contains(&x) && (3..9).contains(&y);
            assert_eq!(
                p.0,
                if inside { [1, 2, 3] } else { [7, 7, 7] },
                "({x}, {y})"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_sample_and_scales_come_from_the_list() {
        let inlier = coordinate_image(120, 200, 9);
        let object = blob();
        let cfg = config(100, 90);
        let draw = |seed| compose(&cfg, &inlier, &object, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(draw(5), draw(5));
        let mut counts = [0usize; 5];
        let distinct = [0.1, 0.125, 0.25, 0.5, 0.75];
        for seed in 0..600 {
            let s = draw(seed).scale;
            let k = distinct
                .iter()
                .position(|&d| d == s)
                .expect("a listed factor");
            counts[k] += 1;
        }
        // 0.5 is listed twice: drawn about 200 times, the others about 100.
        assert!((150..250).contains(&counts[3]), "{counts:?}");
        for k in [0, 1, 2, 4] {
            assert!((60..140).contains(&counts[k]), "{counts:?}");
        }
    }

    #[test]
    fn objects_larger_than_the_canvas_are_centre_cropped_to_it() {
        let inlier = coordinate_image(30, 30, 0);
        let object = OeObject::cut(
            "big",
            &coordinate_image(50, 80, 1),
            &rect_mask(50, 80, [0, 0, 80, 50]),
        )
        .unwrap();
        let cfg = OeConfig {
            scales: vec![1.0],
            ..config(20, 30)
        };
        let sample = compose(&cfg, &inlier, &object, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(sample.label, Some([0.0, 0.0, 30.0, 20.0]));
        // Columns 25..55 and rows 15..35 of the object: its centre.
        assert_eq!(sample.image.get_pixel(0, 0).0, [25, 15, 1]);
    }

    #[test]
    fn invalid_knobs_are_rejected() {
        let bad = [
            OeConfig {
                height: 0,
                ..OeConfig::default()
            },
            OeConfig {
                mirror_probability: 1.5,
                ..OeConfig::default()
            },
            OeConfig {
                scales: vec![],
                ..OeConfig::default()
            },
            OeConfig {
                scales: vec![0.5, -1.0],
                ..OeConfig::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
        OeConfig::default().validate().unwrap();
    }
}
