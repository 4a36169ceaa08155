//! Properties of whole synthetic maps: reproducibility, exact labels,
//! knob bounds, and that objects stand out from what surrounds them.

use super::*;

/// A smaller frame than the default keeps the many-seed tests quick.
fn small() -> SynthesisConfig {
    SynthesisConfig {
        height: 192,
        width: 384,
        ..SynthesisConfig::default()
    }
}

fn maps(
    config: &SynthesisConfig,
    seeds: std::ops::Range<u64>,
) -> impl Iterator<Item = SyntheticMap> + '_ {
    seeds.map(|seed| synthesize(config, seed).unwrap())
}

#[test]
fn a_seed_reproduces_its_map_and_other_seeds_differ() {
    let config = small();
    let a = synthesize(&config, 42).unwrap();
    assert_eq!(a, synthesize(&config, 42).unwrap());
    let b = synthesize(&config, 43).unwrap();
    assert_ne!(a.values, b.values);
}

#[test]
fn boxes_are_tight_around_the_visible_pixels_inside_the_frame() {
    let config = small();
    let mut seen = 0;
    for map in maps(&config, 0..60) {
        let (h, w) = (map.height, map.width);
        assert_eq!(map.instances.len(), h * w);
        for (k, object) in map.objects.iter().enumerate() {
            let id = k as u16 + 1;
            let mut tight = [usize::MAX, usize::MAX, 0, 0];
            let mut area = 0;
            for y in 0..h {
                for x in 0..w {
                    if map.instances[y * w + x] == id {
                        tight = [
                            tight[0].min(x),
                            tight[1].min(y),
                            tight[2].max(x + 1),
                            tight[3].max(y + 1),
                        ];
                        area += 1;
                    }
                }
            }
            assert_eq!(object.bbox, tight.map(|c| c as f32), "seed map object {k}");
            assert_eq!(object.area, area);
            let [x0, y0, x1, y1] = object.bbox;
            assert!(x0 >= 0.0 && y0 >= 0.0 && x1 <= w as f32 && y1 <= h as f32);
            assert!(x1 > x0 && y1 > y0);
            seen += 1;
        }
        assert!(
            map.instances
                .iter()
                .all(|&i| usize::from(i) <= map.objects.len())
        );
    }
    assert!(seen > 50, "only {seen} objects");
}

#[test]
fn sizes_stay_within_the_configured_bounds() {
    let config = small();
    let min = config.objects.min_size;
    let max = config.objects.max_size(config.height, config.width) as u32;
    let mut sizes = Vec::new();
    for map in maps(&config, 0..100) {
        for object in &map.objects {
            let [x0, y0, x1, y1] = object.bbox;
            let visible = (x1 - x0).max(y1 - y0) as u32;
            assert!((min..=max).contains(&object.size), "size {}", object.size);
            assert!(
                (min..=object.size).contains(&visible),
                "visible {visible} of {}",
                object.size
            );
            sizes.push(object.size);
        }
    }
    // Log-uniform: both ends of the range are drawn.
    assert!(sizes.iter().any(|&s| s < 2 * min));
    assert!(sizes.iter().any(|&s| s > max / 2));
}

#[test]
fn values_respect_both_range_kinds() {
    let config = small();
    let v = &config.value_range;
    let mut kinds = Vec::new();
    for map in maps(&config, 0..20) {
        let (lo, hi) = match map.range.kind {
            RangeKind::Energy => (v.energy_low[0], v.energy_high[1]),
            RangeKind::Unit => (0.0, 1.0),
        };
        assert!(
            map.values.iter().all(|x| (lo..=hi).contains(x)),
            "{:?}",
            map.range
        );
        kinds.push(map.range.kind);
    }
    assert!(kinds.contains(&RangeKind::Energy) && kinds.contains(&RangeKind::Unit));

    // Forced to one kind by the probability knob.
    for (p, kind) in [(1.0, RangeKind::Energy), (0.0, RangeKind::Unit)] {
        let mut config = small();
        config.value_range.energy_probability = p;
        assert!(maps(&config, 0..5).all(|m| m.range.kind == kind));
    }
}

#[test]
fn maps_without_objects_occur_at_the_configured_rate() {
    let config = SynthesisConfig {
        height: 128,
        width: 256,
        ..SynthesisConfig::default()
    };
    let n = 200;
    let empty = maps(&config, 0..n).filter(|m| m.objects.is_empty()).count();
    let expected =
        config.objects.count_weights[0] / config.objects.count_weights.iter().sum::<f32>();
    let rate = empty as f32 / n as f32;
    // Binomial standard deviation at n = 200, p = 0.3: 0.032.
    assert!(
        (rate - expected).abs() < 0.1,
        "empty rate {rate}, expected {expected}"
    );

    let mut config = config;
    config.objects.count_weights = vec![1.0];
    assert!(
        maps(&config, 0..10).all(|m| m.objects.is_empty() && m.instances.iter().all(|&i| i == 0))
    );
}

#[test]
fn objects_score_higher_than_their_surroundings() {
    let config = small();
    let mut gaps = Vec::new();
    for map in maps(&config, 0..80) {
        let (h, w) = (map.height, map.width);
        let normalised: Vec<f32> = map.values.iter().map(|&v| map.range.normalise(v)).collect();
        for (k, object) in map.objects.iter().enumerate() {
            let id = k as u16 + 1;
            let [x0, y0, x1, y1] = object.bbox.map(|c| c as usize);
            let margin = ((x1 - x0).max(y1 - y0) / 4).max(4);
            let (mut inside, mut n_in, mut ring, mut n_ring) = (0.0, 0, 0.0, 0);
            for y in y0.saturating_sub(margin)..(y1 + margin).min(h) {
                for x in x0.saturating_sub(margin)..(x1 + margin).min(w) {
                    let i = y * w + x;
                    let in_box = (x0..x1).contains(&x) && (y0..y1).contains(&y);
                    if map.instances[i] == id {
                        inside += normalised[i];
                        n_in += 1;
                    } else if !in_box && map.instances[i] == 0 {
                        ring += normalised[i];
                        n_ring += 1;
                    }
                }
            }
            let (inside, ring) = (inside / n_in as f32, ring / n_ring.max(1) as f32);
            assert!(
                inside > ring,
                "object {k} {object:?}: {inside} vs ring {ring}"
            );
            gaps.push(inside - ring);
        }
    }
    let mean_gap = gaps.iter().sum::<f32>() / gaps.len() as f32;
    assert!(
        gaps.len() > 50 && mean_gap > 0.2,
        "{} objects, mean gap {mean_gap}",
        gaps.len()
    );
}

#[test]
fn every_kind_and_degradation_occurs() {
    let config = small();
    let objects: Vec<SyntheticObject> = maps(&config, 0..120).flat_map(|m| m.objects).collect();
    for kind in ShapeKind::ALL {
        assert!(objects.iter().any(|o| o.kind == kind), "no {kind:?}");
    }
    let count =
        |f: fn(&Completeness) -> bool| objects.iter().filter(|o| f(&o.completeness)).count();
    for (what, n) in [
        ("fragmented", count(|c| c.fragmented)),
        ("holey", count(|c| c.holey)),
        ("occluded", count(|c| c.occluded)),
        ("faint", count(|c| c.faint)),
    ] {
        assert!(n > 0, "no {what} object");
    }
}

#[test]
fn invalid_knobs_are_named() {
    let mut config = small();
    config.distractors.spot_diameter = [2.0, 9.0];
    let err = synthesize(&config, 0).unwrap_err().to_string();
    assert!(err.contains("distractors.spot_diameter"), "{err}");

    let mut config = small();
    config.objects.level = [0.9, 0.6];
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("objects.level")
    );

    let mut config = small();
    config.height = 12;
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_size_fraction")
    );

    let mut config = small();
    config.objects.count_weights = vec![0.0, 0.0];
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("count_weights")
    );
    assert!(SynthesisConfig::default().validate().is_ok());
}
