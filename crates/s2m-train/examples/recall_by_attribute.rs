//! Where a trained generator misses (issue #4): recall at IoU 0.5 on
//! objects of at least 32x32 px of held-out synthesised maps (validation
//! seeds, the default energy-score synthesis of `s2m train-generator`),
//! split by the objects' attributes (shape, fragmented, holey, occluded,
//! faint, shorter side), at detectron2's 0.05 and at a given threshold;
//! and the share of object-free maps left without a box at that threshold,
//! with the highest box of each object-free map that has one.
//!
//! ```sh
//! cargo run --example recall_by_attribute -p s2m-train -- \
//!     runs/generator/generator.safetensors 300 0.8 [256 512]
//! ```

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use s2m_core::detector::nms::iou;
use s2m_train::synthesis::{SynthesisConfig, SyntheticObject, ValueRangeConfig, synthesize};
use s2m_train::training::checkpoint::resume;
use s2m_train::training::synthetic_run::VALIDATION_SEEDS;
use s2m_train::training::trainer::VALIDATION_MIN_SIDE;

/// Counts of found objects: (found at 0.05, found at the threshold, all).
type Tally = (usize, usize, usize);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, maps, threshold, rest @ ..] = args.as_slice() else {
        return Err("usage: recall_by_attribute WEIGHTS MAPS THRESHOLD [HEIGHT WIDTH]".into());
    };
    let (maps, threshold): (u64, f32) = (maps.parse()?, threshold.parse()?);
    let (height, width) = match rest {
        [h, w] => (h.parse()?, w.parse()?),
        _ => (256, 512),
    };
    let device = Device::flex().autodiff();
    let (detector, _) = resume(std::fs::read(path)?, path, &device)?;
    let mut model = detector.valid();
    model.config.test_score_threshold = 0.05;
    let synthesis = SynthesisConfig {
        height,
        width,
        value_range: ValueRangeConfig {
            energy_probability: 1.0,
            ..ValueRangeConfig::default()
        },
        ..SynthesisConfig::default()
    };

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let (mut empty_maps, mut clean_maps) = (0, 0);
    let mut false_alarms = Vec::new();
    for i in 0..maps {
        let map = synthesize(&synthesis, VALIDATION_SEEDS + i)?;
        let input = Tensor::<2>::from_data(
            TensorData::new(map.values.clone(), [map.height, map.width]),
            &device,
        );
        let detections = pollster::block_on(model.detect(input))?;
        if map.objects.is_empty() {
            empty_maps += 1;
            clean_maps += detections.iter().all(|d| d.score < threshold) as usize;
            // What fires on an object-free map: its highest-scoring box.
            if let Some(top) = detections.iter().max_by(|a, b| a.score.total_cmp(&b.score)) {
                if top.score >= threshold {
                    let b = top.bbox;
                    let (bw, bh) = (b[2] - b[0], b[3] - b[1]);
                    false_alarms.push(format!(
                        "map {i}: {bw:.0}x{bh:.0} px at ({:.0}, {:.0}), score {:.3}",
                        b[0], b[1], top.score
                    ));
                }
            }
        }
        for object in &map.objects {
            let b = object.bbox;
            if b[2] - b[0] < VALIDATION_MIN_SIDE || b[3] - b[1] < VALIDATION_MIN_SIDE {
                continue;
            }
            // The best score among detections that match the object.
            let best = detections
                .iter()
                .filter(|d| iou(&b, &d.bbox) >= 0.5)
                .map(|d| d.score)
                .fold(None, |best: Option<f32>, s| {
                    Some(best.map_or(s, |b| b.max(s)))
                });
            for key in attributes(object) {
                let tally = tallies.entry(key).or_default();
                tally.0 += best.is_some() as usize;
                tally.1 += best.is_some_and(|s| s >= threshold) as usize;
                tally.2 += 1;
            }
        }
    }
    println!("{maps} held-out maps; recall at IoU 0.5 (objects >= 32x32 px):");
    println!(
        "{:<24} {:>7} {:>8} {:>8}",
        "objects",
        "count",
        "at 0.05",
        format!("at {threshold}")
    );
    for (key, (low, high, all)) in &tallies {
        let share = |n: usize| n as f32 / *all as f32;
        println!(
            "{key:<24} {all:>7} {:>8.3} {:>8.3}",
            share(*low),
            share(*high)
        );
    }
    println!(
        "object-free maps without a box at {threshold}: {clean_maps} of {empty_maps} ({:.3})",
        clean_maps as f32 / empty_maps.max(1) as f32
    );
    println!("highest box on object-free maps where it reaches {threshold}:");
    for alarm in &false_alarms {
        println!("  {alarm}");
    }
    Ok(())
}

/// The groups an object counts in: all, its shape, each degradation
/// (yes/no), its shorter side in 32 px bins.
fn attributes(object: &SyntheticObject) -> Vec<String> {
    let c = &object.completeness;
    let b = object.bbox;
    let side = ((b[2] - b[0]).min(b[3] - b[1]) as usize / 32 * 32).min(128);
    vec![
        "all".into(),
        format!("shape {:?}", object.kind),
        format!("fragmented {}", c.fragmented),
        format!("holey {}", c.holey),
        format!("occluded {}", c.occluded),
        format!("faint {}", c.faint),
        format!("shorter side {side}+ px"),
    ]
}
