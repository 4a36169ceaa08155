//! `s2m bench roi-align`: our WGSL ROI-align kernel against the tensor-op
//! implementation on the same wgpu adapter, on the detector's workload:
//! random FPN features of a score map, random boxes whose sizes (log-uniform
//! 16..800 px) spread them over P2..P5.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor, TensorData};
use s2m_core::detector::poolers::fpn_level;
use s2m_core::detector::roi_align::{RoiAlignParams, multi_level_roi_align};
use s2m_core::device::{Backend, open_device};

use super::{mean_ms, unit_random};

#[derive(clap::Args)]
pub struct RoiAlignBenchArgs {
    /// Boxes to pool.
    #[arg(long, default_value_t = 1000)]
    boxes: usize,
    /// Feature channels.
    #[arg(long, default_value_t = 256)]
    channels: usize,
    /// Score map height.
    #[arg(long, default_value_t = 1024)]
    height: usize,
    /// Score map width.
    #[arg(long, default_value_t = 2048)]
    width: usize,
    /// Timed runs of each implementation (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

const STRIDES: [usize; 4] = [4, 8, 16, 32];

pub fn run(args: &RoiAlignBenchArgs) -> Result<()> {
    let device = open_device(Backend::Wgpu).context("the benchmark needs a wgpu adapter")?;
    let features: Vec<Tensor<4>> = STRIDES
        .iter()
        .map(|&s| {
            let (h, w) = (args.height.div_ceil(s), args.width.div_ceil(s));
            let values: Vec<f32> = (0..args.channels * h * w)
                .map(|i| unit_random(i as u64 ^ (s as u64) << 40))
                .collect();
            Tensor::from_data(TensorData::new(values, [1, args.channels, h, w]), &device)
        })
        .collect();
    let boxes: Vec<[f32; 4]> = (0..args.boxes as u64)
        .map(|i| {
            let r = |k: u64| unit_random(i * 4 + k + (1 << 50));
            let (w, h) = (16.0 * 50f32.powf(r(0)), 16.0 * 50f32.powf(r(1)));
            let (cx, cy) = (r(2) * args.width as f32, r(3) * args.height as f32);
            [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
        })
        .collect();
    let levels: Vec<usize> = boxes.iter().map(|b| fpn_level(b, 2, 5) - 2).collect();
    let per_level: Vec<usize> = (0..4)
        .map(|l| levels.iter().filter(|&&x| x == l).count())
        .collect();
    let params = RoiAlignParams {
        output_size: 7,
        sampling_ratio: 0,
        aligned: true,
    };
    println!(
        "{} boxes (P2..P5: {per_level:?}) x {} channels, {}x{} map, 7x7 output, {} timed runs",
        args.boxes, args.channels, args.height, args.width, args.runs
    );

    let kernel = time(&device, args.runs, || {
        s2m_kernels::roi_align::multi_level_roi_align(&features, &STRIDES, &boxes, &levels, &params)
            .context("the WGSL kernel did not run on this device")
    })?;
    let tensor_ops = time(&device, args.runs, || {
        Ok(multi_level_roi_align(
            &features, &STRIDES, &boxes, &levels, &params,
        ))
    })?;
    if kernel.is_empty() || tensor_ops.is_empty() {
        bail!("no timed runs");
    }
    let (kernel, tensor_ops) = (mean_ms(&kernel), mean_ms(&tensor_ops));
    println!("{:<22} {:>12}", "implementation", "time (ms)");
    println!("{:<22} {kernel:>12.1}", "WGSL kernel");
    println!("{:<22} {tensor_ops:>12.1}", "tensor ops");
    println!("speed-up of the kernel: {:.1}x", tensor_ops / kernel);
    Ok(())
}

/// Times `pool` `runs` times after a warm-up run, up to reading back the
/// sum of its result (so all the device work it queued has run).
fn time(
    device: &Device,
    runs: usize,
    pool: impl Fn() -> Result<Tensor<4>>,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for run in 0..=runs {
        device.sync()?;
        let start = Instant::now();
        let checksum: f32 = pool()?
            .sum()
            .try_into_scalar()
            .map_err(|e| anyhow::anyhow!("reading the pooled features failed: {e:?}"))?;
        if run > 0 {
            times.push(start.elapsed());
        }
        anyhow::ensure!(checksum.is_finite(), "pooled features are not finite");
    }
    Ok(times)
}
