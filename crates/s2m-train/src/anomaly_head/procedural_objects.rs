//! Synthetic outliers for the kinds of road anomalies no labelled set here
//! holds: rocks and debris (irregular blobs), boxes (a front and a top
//! face), traffic cones, tyres, planks and bags, each with a texture drawn
//! from solid colours with noise, stripes, checks, gradients or a patch of
//! a real frame (so that an anomaly can wear any texture the road scene
//! has, and the head must use shape and context, not colour alone), and
//! shaded from the top. Real anomalies are not only animals: these keep
//! the head from learning "fur".

use std::f32::consts::PI;

use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::Rng;

use crate::outlier_exposure::OeObject;

/// A random synthetic object, about 48..160 pixels across; textures may
/// come from random crops of `texture_sources`.
pub fn procedural_object(rng: &mut impl Rng, texture_sources: &[&RgbImage]) -> OeObject {
    let w = rng.random_range(48..160u32);
    let h = rng.random_range(48..160u32);
    let mask = match rng.random_range(0..6) {
        0 => blob(w, h, rng),
        1 => cardboard_box(w, h, rng),
        2 => cone(w, h),
        3 => tyre(w, h, rng),
        4 => plank(w, h, rng),
        _ => bag(w, h, rng),
    };
    let texture = texture(w, h, rng, texture_sources);
    let light = rng.random_range(0.5..1.0f32);
    let image = RgbImage::from_fn(w, h, |x, y| {
        // Lit from above: the bottom is darker by up to `1 - light`.
        let shade = 1.0 - (1.0 - light) * y as f32 / h as f32;
        Rgb(texture
            .get_pixel(x, y)
            .0
            .map(|v| (v as f32 * shade).round() as u8))
    });
    OeObject { image, mask }
}

fn mask_from(w: u32, h: u32, inside: impl Fn(f32, f32) -> bool) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        // Normalised coordinates in -1..1 at the pixel centre.
        let u = (x as f32 + 0.5) / w as f32 * 2.0 - 1.0;
        let v = (y as f32 + 0.5) / h as f32 * 2.0 - 1.0;
        Luma([if inside(u, v) { 255 } else { 0 }])
    })
}

/// A rock or a heap of debris: a star-shaped outline whose radius wobbles
/// with a few random harmonics, flattened at the bottom where it rests.
fn blob(w: u32, h: u32, rng: &mut impl Rng) -> GrayImage {
    let harmonics: Vec<(f32, f32, f32)> = (0..4)
        .map(|k| {
            (
                (k + 2) as f32,
                rng.random_range(0.0..0.18f32),
                rng.random_range(0.0..2.0 * PI),
            )
        })
        .collect();
    mask_from(w, h, |u, v| {
        let angle = v.atan2(u);
        let radius = 0.8
            + harmonics
                .iter()
                .map(|(k, a, p)| a * (k * angle + p).sin())
                .sum::<f32>();
        (u * u + v * v).sqrt() < radius && v < 0.95
    })
}

/// A box: the front face in the lower part and the top face as a
/// parallelogram above it.
fn cardboard_box(w: u32, h: u32, rng: &mut impl Rng) -> GrayImage {
    let top = rng.random_range(-0.4..0.2f32);
    let slant = rng.random_range(0.0..0.3f32);
    mask_from(w, h, |u, v| {
        let front = v >= top && u.abs() <= 0.9;
        let lid = v < top && v >= -0.95 && {
            let shift = slant * (top - v) / (top + 0.95);
            u >= -0.9 + shift && u <= 0.9 + shift
        };
        front || lid
    })
}

/// A traffic cone: a triangle narrowing upwards on a wide flat base.
fn cone(w: u32, h: u32) -> GrayImage {
    mask_from(w, h, |u, v| {
        let base = v > 0.8 && u.abs() < 0.95;
        let half_width = 0.08 + 0.62 * (v + 1.0) / 1.8;
        base || (v > -0.95 && u.abs() < half_width)
    })
}

/// A tyre: an ellipse with a hole, upright or lying.
fn tyre(w: u32, h: u32, rng: &mut impl Rng) -> GrayImage {
    let hole = rng.random_range(0.3..0.6f32);
    mask_from(w, h, |u, v| {
        let r = (u * u + v * v).sqrt();
        r < 0.95 && r > hole
    })
}

/// A plank or pipe: a thin bar at a random angle.
fn plank(w: u32, h: u32, rng: &mut impl Rng) -> GrayImage {
    let angle = rng.random_range(-0.6..0.6f32);
    let thickness = rng.random_range(0.12..0.3f32);
    let (s, c) = angle.sin_cos();
    mask_from(w, h, |u, v| {
        let across = -s * u + c * v;
        let along = c * u + s * v;
        across.abs() < thickness && along.abs() < 0.95
    })
}

/// A bag or sack: a rounded body with a knot on top.
fn bag(w: u32, h: u32, rng: &mut impl Rng) -> GrayImage {
    let squash = rng.random_range(0.7..1.0f32);
    mask_from(w, h, |u, v| {
        let body = u * u / (0.9 * 0.9) + ((v - 0.25) / (0.7 * squash)).powi(2) < 1.0;
        let knot = u.abs() < 0.15 && v > -0.9 && v < -0.3;
        body || knot
    })
}

/// A `w` x `h` texture.
fn texture(w: u32, h: u32, rng: &mut impl Rng, sources: &[&RgbImage]) -> RgbImage {
    let colour = |rng: &mut dyn rand::RngCore| -> [f32; 3] {
        std::array::from_fn(|_| rng.random_range(0.0..255.0f32))
    };
    let (a, b) = (colour(rng), colour(rng));
    let noise = rng.random_range(0.0..40.0f32);
    let noisy = |p: [f32; 3], rng: &mut dyn rand::RngCore| {
        let n = rng.random_range(-noise..=noise);
        Rgb(p.map(|v| (v + n).clamp(0.0, 255.0) as u8))
    };
    match rng.random_range(0..5) {
        0 => RgbImage::from_fn(w, h, |_, _| noisy(a, rng)),
        1 => {
            let period = rng.random_range(6.0..30.0f32);
            let angle = rng.random_range(0.0..PI);
            let (s, c) = angle.sin_cos();
            RgbImage::from_fn(w, h, |x, y| {
                let t = (x as f32 * c + y as f32 * s) / period;
                noisy(if t.rem_euclid(1.0) < 0.5 { a } else { b }, rng)
            })
        }
        2 => {
            let cell = rng.random_range(4..24u32);
            RgbImage::from_fn(w, h, |x, y| {
                noisy(if (x / cell + y / cell) % 2 == 0 { a } else { b }, rng)
            })
        }
        3 => RgbImage::from_fn(w, h, |x, y| {
            let t = (x + y) as f32 / (w + h) as f32;
            noisy(std::array::from_fn(|k| a[k] * (1.0 - t) + b[k] * t), rng)
        }),
        _ => match sources.get(rng.random_range(0..sources.len().max(1))) {
            Some(source) if source.width() > w && source.height() > h => {
                let x0 = rng.random_range(0..source.width() - w);
                let y0 = rng.random_range(0..source.height() - h);
                image::imageops::crop_imm(*source, x0, y0, w, h).to_image()
            }
            _ => RgbImage::from_fn(w, h, |_, _| noisy(a, rng)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn every_object_has_a_mask_of_its_size_and_is_reproducible() {
        let source = RgbImage::from_pixel(400, 300, Rgb([10, 200, 30]));
        for seed in 0..60 {
            let object = procedural_object(&mut ChaCha8Rng::seed_from_u64(seed), &[&source]);
            assert_eq!(object.image.dimensions(), object.mask.dimensions());
            let on = object.mask.pixels().filter(|p| p.0[0] == 255).count();
            let all = object.mask.pixels().count();
            assert!(on * 10 > all, "seed {seed}: {on} of {all} pixels");
            let again = procedural_object(&mut ChaCha8Rng::seed_from_u64(seed), &[&source]);
            assert_eq!(object, again);
        }
    }
}
