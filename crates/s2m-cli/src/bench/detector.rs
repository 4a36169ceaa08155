//! `s2m bench detector`: the prompt generator per score map on each
//! backend, split into backbone (ResNet + FPN), RPN proposals, and ROI
//! pooling + box head, with freshly initialised weights (detectron2's
//! initialisation; the time does not depend on the values, as long as they
//! give the RPN's cap of 1000 proposals, printed, for which the input is
//! normalised to about unit range).

use std::time::{Duration, Instant};

use anyhow::Result;
use burn::tensor::{Tensor, TensorData};
use s2m_core::detector::{Detector, DetectorConfig, poolers};
use s2m_core::device::{Backend, open_device};

use super::{mean_ms, unit_random};

#[derive(clap::Args)]
pub struct DetectorBenchArgs {
    /// ResNet depth of the backbone: 50 (the paper) or 18 (our default).
    #[arg(long, default_value_t = 50)]
    depth: usize,
    /// Backends to compare, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
    backends: Vec<Backend>,
    /// Score map height.
    #[arg(long, default_value_t = 1024)]
    height: usize,
    /// Score map width.
    #[arg(long, default_value_t = 2048)]
    width: usize,
    /// Timed runs per backend (after one warm-up run).
    #[arg(long, default_value_t = 1)]
    runs: usize,
}

pub fn run(args: &DetectorBenchArgs) -> Result<()> {
    let paper = match args.depth {
        18 => DetectorConfig::r18_fpn(),
        50 => DetectorConfig::r50_fpn(),
        other => anyhow::bail!("--depth {other}: the benchmark knows 18 and 50"),
    };
    let config = DetectorConfig {
        pixel_mean: [-8.0; 3],
        pixel_std: [5.0; 3],
        ..paper
    };
    let (h, w) = (args.height, args.width);
    // A smooth background with a few bright blobs, in energy-score range.
    let map: Vec<f32> = (0..h * w)
        .map(|i| {
            let (y, x) = ((i / w) as f32, (i % w) as f32);
            let blob = |cy: f32, cx: f32, r: f32| {
                (-((y - cy).powi(2) + (x - cx).powi(2)) / (2.0 * r * r)).exp()
            };
            -8.0 + 0.3 * unit_random(i as u64)
                + 10.0
                    * (blob(0.6 * h as f32, 0.3 * w as f32, 30.0)
                        + blob(0.7 * h as f32, 0.7 * w as f32, 80.0))
        })
        .collect();
    println!(
        "ResNet-{}-FPN prompt generator, {h}x{w} score map, {} timed runs after one warm-up",
        args.depth, args.runs
    );
    println!(
        "{:<8} {:>14} {:>14} {:>14} {:>12} {:>10}",
        "backend", "backbone (ms)", "RPN (ms)", "ROI head (ms)", "total (ms)", "proposals"
    );
    for &backend in &args.backends {
        let device = open_device(backend)?;
        let detector = Detector::new(config.clone(), &device);
        let mut stages: [Vec<Duration>; 3] = Default::default();
        let mut proposals = 0;
        for run in 0..=args.runs {
            let score_map = Tensor::<2>::from_data(TensorData::new(map.clone(), [h, w]), &device);
            device.sync()?;
            let start = Instant::now();
            let features = detector.features(score_map)?;
            device.sync()?;
            let backbone = start.elapsed();
            let start = Instant::now();
            let found = pollster::block_on(detector.proposals(&features, (h, w)))?;
            let rpn = start.elapsed();
            let start = Instant::now();
            let pooled = poolers::pool(&features, &found.boxes, &detector.config);
            pollster::block_on(detector.roi_heads.detect(
                pooled,
                &found.boxes,
                (h, w),
                &detector.config,
            ))?;
            let heads = start.elapsed();
            proposals = found.boxes.len();
            if run > 0 {
                for (stage, time) in stages.iter_mut().zip([backbone, rpn, heads]) {
                    stage.push(time);
                }
            }
        }
        let [backbone, rpn, heads] = stages.map(|s| mean_ms(&s));
        println!(
            "{:<8} {backbone:>14.1} {rpn:>14.1} {heads:>14.1} {:>12.1} {proposals:>10}",
            backend.to_string(),
            backbone + rpn + heads
        );
    }
    Ok(())
}
