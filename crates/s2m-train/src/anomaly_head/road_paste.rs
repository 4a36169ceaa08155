//! Outliers pasted where a driver meets them: standing on the ground
//! (road or pavement classes of the inlier frame), sized by perspective,
//! blended with a soft edge, brightness pulled towards the scene's, and a
//! contact shadow beneath. The PEBAL/RPL recipe (`outlier_exposure/
//! paste.rs`) pastes at uniformly random places and scales, so objects
//! float in the sky or fill the frame; a head trained on such frames
//! learns "pasted" rather than "an object on the road".
//!
//! Perspective on a flat road: a point on the ground at image row `y`
//! lies at a distance proportional to `1 / (y - y_horizon)`, so an object
//! of height `H` seen from a camera at height `C` spans `(H / C) (y -
//! y_horizon)` rows. The horizon is taken at the top row of the frame's
//! ground pixels (the vanishing point of the road, or where the road
//! leaves the view), and `H / C` is drawn from [`PasteConfig::height_ratio`].

use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::Rng;

use super::labelled_frame::{LabelledFrame, RoadFrame, inlier_labels};
use crate::outlier_exposure::OeObject;
use crate::outlier_exposure::rescale;

/// How objects are pasted.
#[derive(Debug, Clone, PartialEq)]
pub struct PasteConfig {
    /// Classes of the inlier frames' class maps objects may stand on.
    pub ground_classes: Vec<u8>,
    /// The inlier frames' void class, if any.
    pub void_class: Option<u8>,
    /// Object height over camera height, drawn uniformly from this range.
    pub height_ratio: (f32, f32),
    /// Objects are at least this many pixels high and at most this
    /// fraction of the frame's height.
    pub min_height: u32,
    pub max_height_fraction: f32,
    /// Probability of mirroring an object horizontally.
    pub mirror_probability: f64,
    /// At most this fraction of the way from the object's brightness to
    /// the scene's (drawn uniformly from 0).
    pub brightness_match: f32,
    /// Darkening at the centre of the contact shadow (0: no shadow).
    pub shadow_strength: f32,
}

impl PasteConfig {
    /// CamVid's 11 classes (`trainannot`): road 3 and pavement 4 are the
    /// ground, 11 is void.
    pub fn camvid() -> Self {
        Self {
            ground_classes: vec![3, 4],
            void_class: Some(11),
            height_ratio: (0.25, 1.3),
            min_height: 10,
            max_height_fraction: 0.6,
            mirror_probability: 0.5,
            brightness_match: 0.5,
            shadow_strength: 0.4,
        }
    }
}

/// `frame` with each of `objects` pasted on its ground; labels are 1 on
/// the objects, void where the frame's class is void, 0 elsewhere. A frame
/// without ground pixels gets the objects on its bottom third.
pub fn paste_on_road(
    frame: &RoadFrame,
    objects: &[&OeObject],
    config: &PasteConfig,
    rng: &mut impl Rng,
) -> LabelledFrame {
    let (w, h) = frame.image.dimensions();
    let mut image = frame.image.clone();
    let mut labels = inlier_labels(frame, config.void_class);
    let ground: Vec<(u32, u32)> = frame
        .classes
        .enumerate_pixels()
        .filter(|(_, _, c)| config.ground_classes.contains(&c.0[0]))
        .map(|(x, y, _)| (x, y))
        .collect();
    let horizon = ground.iter().map(|&(_, y)| y).min().unwrap_or(h / 3);
    for object in objects {
        let (x, y) = if ground.is_empty() {
            (rng.random_range(0..w), rng.random_range(h * 2 / 3..h))
        } else {
            ground[rng.random_range(0..ground.len())]
        };
        let ratio = rng.random_range(config.height_ratio.0..=config.height_ratio.1);
        let max_height = ((h as f32 * config.max_height_fraction) as u32).max(config.min_height);
        let height = ((ratio * (y.saturating_sub(horizon) + 1) as f32) as u32)
            .clamp(config.min_height, max_height);
        let (ow, oh) = object.image.dimensions();
        let width = ((ow as f32 * height as f32 / oh as f32).round() as u32).clamp(1, w);
        let mirrored = rng.random_bool(config.mirror_probability);
        let gain_pull = rng.random_range(0.0..=config.brightness_match);
        let placed = Placement {
            left: x as i64 - width as i64 / 2,
            top: y as i64 + 1 - height as i64,
            width,
            height,
            mirrored,
            gain_pull,
        };
        placed.shadow(&mut image, &labels, config.shadow_strength);
        placed.paste(object, &mut image, &mut labels);
    }
    LabelledFrame {
        name: frame.name.clone(),
        image,
        labels,
    }
}

/// Where and how one object goes.
struct Placement {
    left: i64,
    top: i64,
    width: u32,
    height: u32,
    mirrored: bool,
    /// Fraction of the way from the object's mean brightness to the
    /// scene's under it.
    gain_pull: f32,
}

impl Placement {
    /// The frame pixel of the object's pixel `(ox, oy)`, if inside.
    fn at(&self, ox: u32, oy: u32, (w, h): (u32, u32)) -> Option<(u32, u32)> {
        let (x, y) = (self.left + ox as i64, self.top + oy as i64);
        (x >= 0 && y >= 0 && x < w as i64 && y < h as i64).then_some((x as u32, y as u32))
    }

    fn paste(&self, object: &OeObject, image: &mut RgbImage, labels: &mut GrayImage) {
        let size = (self.width, self.height);
        let mut pixels = rescale::bilinear(&object.image, size);
        let mut mask = rescale::nearest(&object.mask, size);
        if self.mirrored {
            image::imageops::flip_horizontal_in_place(&mut pixels);
            image::imageops::flip_horizontal_in_place(&mut mask);
        }
        let alpha = soft_edge(&mask);
        let dims = image.dimensions();
        let (mut scene, mut own, mut n) = (0.0f64, 0.0f64, 0usize);
        for (ox, oy, m) in mask.enumerate_pixels() {
            if let (true, Some((x, y))) = (m.0[0] > 0, self.at(ox, oy, dims)) {
                scene += luma(image.get_pixel(x, y)) as f64;
                own += luma(pixels.get_pixel(ox, oy)) as f64;
                n += 1;
            }
        }
        if n == 0 {
            return;
        }
        let ratio = ((scene + 1.0) / (own + 1.0)) as f32;
        let gain = (1.0 + self.gain_pull * (ratio - 1.0)).clamp(0.5, 2.0);
        for (ox, oy, m) in mask.enumerate_pixels() {
            let Some((x, y)) = self.at(ox, oy, dims) else {
                continue;
            };
            let a = alpha[(oy * self.width + ox) as usize];
            if a <= 0.0 {
                continue;
            }
            let under = image.get_pixel(x, y).0;
            let over = pixels.get_pixel(ox, oy).0;
            let blended = std::array::from_fn(|k| {
                let o = (over[k] as f32 * gain).min(255.0);
                ((1.0 - a) * under[k] as f32 + a * o).round() as u8
            });
            image.put_pixel(x, y, Rgb(blended));
            if m.0[0] > 0 {
                labels.put_pixel(x, y, Luma([1]));
            }
        }
    }

    /// Darkens an ellipse under the object's base, outside objects.
    fn shadow(&self, image: &mut RgbImage, labels: &GrayImage, strength: f32) {
        if strength <= 0.0 {
            return;
        }
        let (cx, cy) = (
            self.left as f32 + self.width as f32 / 2.0,
            (self.top + self.height as i64) as f32,
        );
        let (rx, ry) = (
            self.width as f32 * 0.55,
            (self.height as f32 * 0.08).max(1.5),
        );
        let (w, h) = image.dimensions();
        let (x0, x1) = ((cx - rx).max(0.0) as u32, ((cx + rx) as u32).min(w));
        let (y0, y1) = ((cy - ry).max(0.0) as u32, ((cy + ry) as u32).min(h));
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = ((x as f32 + 0.5 - cx) / rx, (y as f32 + 0.5 - cy) / ry);
                let r2 = dx * dx + dy * dy;
                if r2 >= 1.0 || labels.get_pixel(x, y).0[0] == 1 {
                    continue;
                }
                let darken = 1.0 - strength * (1.0 - r2);
                let p = image.get_pixel(x, y).0;
                image.put_pixel(x, y, Rgb(p.map(|v| (v as f32 * darken).round() as u8)));
            }
        }
    }
}

fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * p.0[0] as f32 + 0.587 * p.0[1] as f32 + 0.114 * p.0[2] as f32
}

/// Opacity of each mask pixel: the mask averaged over its 3 x 3
/// neighbourhood, at least one half, so the outermost object pixels are
/// partly blended; 0 outside the mask.
fn soft_edge(mask: &GrayImage) -> Vec<f32> {
    let (w, h) = mask.dimensions();
    let on = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && x < w as i64
            && y < h as i64
            && mask.get_pixel(x as u32, y as u32).0[0] > 0
    };
    let mut alpha = Vec::with_capacity((w * h) as usize);
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            let count = (-1..=1)
                .flat_map(|dy| (-1..=1).map(move |dx| (dx, dy)))
                .filter(|&(dx, dy)| on(x + dx, y + dy))
                .count();
            let a = count as f32 / 9.0;
            alpha.push(if on(x, y) { a.max(0.5) } else { 0.0 });
        }
    }
    alpha
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn road_frame() -> RoadFrame {
        // 80 x 60: sky (0) above row 20, road (3) below, void (11) in the
        // top-left corner.
        RoadFrame {
            name: "road".into(),
            image: RgbImage::from_pixel(80, 60, Rgb([100, 100, 100])),
            classes: GrayImage::from_fn(80, 60, |x, y| {
                Luma([if y >= 20 {
                    3
                } else if x < 5 && y < 5 {
                    11
                } else {
                    0
                }])
            }),
        }
    }

    #[test]
    fn objects_stand_on_the_ground_and_are_labelled() {
        let object = OeObject {
            image: RgbImage::from_pixel(10, 20, Rgb([250, 0, 0])),
            mask: GrayImage::from_pixel(10, 20, Luma([255])),
        };
        let config = PasteConfig::camvid();
        for seed in 0..20 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let pasted = paste_on_road(&road_frame(), &[&object], &config, &mut rng);
            let object_pixels: Vec<(u32, u32)> = pasted
                .labels
                .enumerate_pixels()
                .filter(|(_, _, l)| l.0[0] == 1)
                .map(|(x, y, _)| (x, y))
                .collect();
            assert!(!object_pixels.is_empty(), "seed {seed}");
            let bottom = object_pixels.iter().map(|p| p.1).max().unwrap();
            assert!(bottom >= 20, "seed {seed}: the base is on the road");
            let top = object_pixels.iter().map(|p| p.1).min().unwrap();
            let height = bottom - top + 1;
            assert!(height >= config.min_height.min(bottom + 1), "seed {seed}");
            // Objects nearer the camera (lower base) may be taller, never
            // taller than perspective allows.
            assert!(height as f32 <= 1.3 * (bottom - 20 + 1) as f32 + 1.0 || height == 10);
            for &(x, y) in &object_pixels {
                assert!(
                    pasted.image.get_pixel(x, y).0[0] > 150,
                    "seed {seed}: red object"
                );
            }
            assert_eq!(pasted.labels.get_pixel(0, 0).0, [crate::anomaly_head::VOID]);
        }
    }

    #[test]
    fn the_edge_is_soft_and_the_inside_opaque() {
        let mut mask = GrayImage::new(5, 5);
        for y in 1..4 {
            for x in 1..4 {
                mask.put_pixel(x, y, Luma([255]));
            }
        }
        let alpha = soft_edge(&mask);
        assert_eq!(alpha[2 * 5 + 2], 1.0);
        assert!((0.5..1.0).contains(&alpha[5 + 1]));
        assert_eq!(alpha[0], 0.0);
    }
}
