//! Writes colour previews of synthetic score maps (the samples in the
//! crate's README) and times the synthesis of full-size maps:
//!
//! ```sh
//! cargo run -p s2m-train --example synthesis_samples -- crates/s2m-train/samples
//! ```
//!
//! Each sample is the first seed of its own block of seeds whose map shows
//! what the sample is about (for instance three objects), so the files are
//! the same on every run.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use s2m_train::synthesis::{ShapeKind, SynthesisConfig, SyntheticMap, SyntheticObject, synthesize};
use std::error::Error;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

/// A named variation of the default knobs, and what its map must show.
struct Sample {
    name: &'static str,
    config: SynthesisConfig,
    wanted: fn(&SyntheticMap) -> bool,
}

fn samples() -> Vec<Sample> {
    let base = SynthesisConfig::default;
    let with = |edit: fn(&mut SynthesisConfig)| {
        let mut config = base();
        edit(&mut config);
        config
    };
    vec![
        Sample {
            name: "default",
            config: base(),
            wanted: |m| m.objects.len() >= 3,
        },
        Sample {
            name: "no_objects",
            config: base(),
            wanted: |m| m.objects.is_empty(),
        },
        Sample {
            name: "people_and_poles",
            config: with(|c| {
                c.objects.count_weights = vec![0.0, 0.0, 0.0, 1.0, 1.0];
                c.shapes.weights.blob = 0.0;
                c.shapes.weights.polygon = 0.0;
            }),
            wanted: |m| {
                let whole = |o: &SyntheticObject| o.size >= 48 && o.bbox[3] < m.height as f32;
                m.objects.iter().all(whole)
                    && m.objects.iter().any(|o| o.kind == ShapeKind::Pole)
                    && m.objects.iter().any(|o| o.kind == ShapeKind::Person)
            },
        },
        Sample {
            name: "degraded_unit_range",
            config: with(|c| {
                c.objects.count_weights = vec![0.0, 0.0, 0.0, 1.0];
                c.completeness.fragment_probability = 0.5;
                c.completeness.hole_probability = 0.5;
                c.completeness.occlusion_probability = 0.5;
                c.completeness.faint_probability = 0.0;
                c.value_range.energy_probability = 0.0;
            }),
            wanted: |m| {
                m.objects.len() == 3
                    && m.objects.iter().all(|o| o.size >= 64)
                    && m.objects.iter().any(|o| o.completeness.fragmented)
                    && m.objects.iter().any(|o| o.completeness.holey)
                    && m.objects.iter().any(|o| o.completeness.occluded)
            },
        },
        Sample {
            name: "faint",
            config: with(|c| {
                c.objects.count_weights = vec![0.0, 0.0, 1.0];
                c.completeness.faint_probability = 1.0;
                c.value_range.energy_probability = 1.0;
            }),
            wanted: |m| m.objects.len() == 2 && m.objects.iter().all(|o| o.size >= 48),
        },
        Sample {
            name: "many_sizes",
            config: with(|c| c.objects.count_weights = vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
            wanted: |m| {
                m.objects.len() == 6
                    && m.objects.iter().any(|o| o.size < 16)
                    && m.objects.iter().any(|o| o.size > 160)
            },
        },
    ]
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: synthesis_samples OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    // Each sample searches its own block of seeds, so no two show one map.
    for (first_seed, sample) in (0..).step_by(1000).zip(samples()) {
        let mut found = None;
        for seed in first_seed..first_seed + 1000 {
            let map = synthesize(&sample.config, seed)?;
            if (sample.wanted)(&map) {
                found = Some((seed, map));
                break;
            }
        }
        let (seed, map) = found.ok_or_else(|| format!("no seed gives a {} sample", sample.name))?;
        let path = out.join(format!("{}.png", sample.name));
        // Best compression keeps each file near 100 KB despite the speckle.
        let file = BufWriter::new(File::create(&path)?);
        let encoder =
            PngEncoder::new_with_quality(file, CompressionType::Best, FilterType::Adaptive);
        map.preview(2).write_with_encoder(encoder)?;
        let objects: Vec<String> = map
            .objects
            .iter()
            .map(|o| format!("{:?} {} px", o.kind, o.size))
            .collect();
        println!(
            "{}: seed {seed}, {:?} range, objects [{}]",
            path.display(),
            map.range.kind,
            objects.join(", ")
        );
    }

    let config = SynthesisConfig::default();
    let runs = 50;
    let mut times = Vec::with_capacity(runs);
    for seed in 0..runs as u64 {
        let start = Instant::now();
        synthesize(&config, seed)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}x{} maps: median {:.1} ms, slowest {:.1} ms over {runs} seeds",
        config.height,
        config.width,
        times[runs / 2],
        times[runs - 1]
    );
    Ok(())
}
