//! Synthetic test scenes for the whole pipeline (issue #5): a road picture
//! (sky, grey asphalt with noise and dashed lane marks) into which the
//! objects of a synthesised score map are pasted, each in a colour of its
//! own. The map then plays the scorer's output for the picture, and the
//! map's instance masks are the ground truth of the pasted objects.
//!
//! Use it with objects that are complete ([`complete_objects`]): holes,
//! fragments, occlusion and faintness degrade a scorer's map, not the
//! objects in the picture.

use crate::synthesis::{
    CompletenessConfig, ObjectConfig, SynthesisConfig, SyntheticMap, ValueRangeConfig,
};

/// Colours of pasted objects, the k-th object taking the k-th (cyclically):
/// none of them occurs on the road or in the sky.
pub const OBJECT_COLOURS: [[u8; 3]; 4] =
    [[200, 40, 30], [40, 170, 60], [230, 200, 30], [60, 80, 210]];

/// The synthesiser's degradations switched off: objects keep their whole
/// silhouette.
pub fn complete_objects() -> CompletenessConfig {
    CompletenessConfig {
        fragment_probability: 0.0,
        hole_probability: 0.0,
        occlusion_probability: 0.0,
        faint_probability: 0.0,
        ..CompletenessConfig::default()
    }
}

/// The synthesiser's settings for scenes: energy maps (the range our
/// generator reads) of `height` x `width` whose objects are complete and
/// at least `min_object_size` px.
pub fn scene_config(height: usize, width: usize, min_object_size: u32) -> SynthesisConfig {
    SynthesisConfig {
        height,
        width,
        objects: ObjectConfig {
            min_size: min_object_size,
            ..ObjectConfig::default()
        },
        completeness: complete_objects(),
        value_range: ValueRangeConfig {
            energy_probability: 1.0,
            ..ValueRangeConfig::default()
        },
        ..SynthesisConfig::default()
    }
}

/// The road picture of `map`, RGB row-major (3 bytes a pixel), its objects
/// pasted in.
pub fn road_picture(map: &SyntheticMap) -> Vec<u8> {
    let (h, w) = (map.height, map.width);
    let horizon = h * 2 / 5;
    let mut pixels = Vec::with_capacity(h * w * 3);
    for y in 0..h {
        for x in 0..w {
            // A fixed dither: texture without a random generator.
            let noise = ((x * 7 + y * 13) % 17) as i32 - 8;
            let object = map.instances[y * w + x] as usize;
            let rgb: [i32; 3] = if object > 0 {
                OBJECT_COLOURS[(object - 1) % OBJECT_COLOURS.len()].map(|c| c as i32 + noise)
            } else if y < horizon {
                [130 + (y * 3 / 10) as i32, 170 + (y / 5) as i32, 225]
            } else {
                let lane_x = w as i64 / 2 + (y as i64 - horizon as i64) / 2;
                if (x as i64 - lane_x).abs() < 3 && (y / 16) % 2 == 0 {
                    [235, 235, 230]
                } else {
                    [95 + noise, 95 + noise, 100 + noise]
                }
            };
            pixels.extend(rgb.map(|c| c.clamp(0, 255) as u8));
        }
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthesis::{ObjectConfig, SynthesisConfig, synthesize};

    #[test]
    fn objects_are_pasted_in_their_colour_and_nowhere_else() {
        let config = SynthesisConfig {
            height: 96,
            width: 160,
            objects: ObjectConfig {
                count_weights: vec![0.0, 0.0, 1.0],
                min_size: 16,
                ..ObjectConfig::default()
            },
            completeness: complete_objects(),
            ..SynthesisConfig::default()
        };
        let map = synthesize(&config, 5).unwrap();
        assert_eq!(map.objects.len(), 2);
        let picture = road_picture(&map);
        assert_eq!(picture.len(), 96 * 160 * 3);
        for (i, &instance) in map.instances.iter().enumerate() {
            let rgb = &picture[i * 3..i * 3 + 3];
            let near = |c: [u8; 3]| (0..3).all(|k| (rgb[k] as i32 - c[k] as i32).abs() <= 8);
            let object_colour = OBJECT_COLOURS.iter().position(|&c| near(c));
            match instance {
                0 => assert_eq!(object_colour, None, "pixel {i}"),
                k => assert_eq!(object_colour, Some(k as usize - 1), "pixel {i}"),
            }
        }
    }
}
