//! `s2m bench sam`: encoder and decoder time per image on each backend,
//! measured in one run so the figures compare.

use std::time::{Duration, Instant};

use anyhow::Result;
use burn::tensor::{Device, Tensor, TensorData};
use s2m_core::device::Backend;
use s2m_core::sam::{Prompts, Sam};

use super::mean_ms;
use crate::ModelArgs;
use crate::model_loading::load_model;

pub fn run(model: ModelArgs, backends: Vec<Backend>, runs: usize) -> Result<()> {
    println!(
        "model {}, 1280x720 frame, one box prompt, {runs} timed runs after one warm-up",
        model.model
    );
    println!(
        "{:<8} {:>14} {:>14}",
        "backend", "encoder (ms)", "decoder (ms)"
    );
    for backend in backends {
        let args = ModelArgs {
            backend,
            ..model.clone()
        };
        let (sam, device) = load_model(&args)?;
        let mut encoder = Vec::new();
        let mut decoder = Vec::new();
        for run in 0..=runs {
            let (enc, dec) = time_once(&sam, &device)?;
            if run > 0 {
                encoder.push(enc);
                decoder.push(dec);
            }
        }
        println!(
            "{:<8} {:>14.1} {:>14.1}",
            backend.to_string(),
            mean_ms(&encoder),
            mean_ms(&decoder)
        );
    }
    Ok(())
}

fn time_once(sam: &Sam, device: &Device) -> Result<(Duration, Duration)> {
    let (h, w) = (720usize, 1280usize);
    let pixels: Vec<f32> = (0..h * w * 3).map(|i| ((i * 7919) % 251) as f32).collect();
    let image = Tensor::<3>::from_data(TensorData::new(pixels, [h, w, 3]), device);
    device.sync()?;

    let start = Instant::now();
    let (input, frame) = sam.preprocess(image);
    let embedding = sam.embed(input);
    device.sync()?;
    let encoder = start.elapsed();

    let start = Instant::now();
    let boxes = frame.boxes_to_input(&[[400.0, 200.0, 800.0, 600.0]]);
    let prompts = Prompts::Boxes(Tensor::from_data(
        TensorData::new(boxes[0].to_vec(), [1, 4]),
        device,
    ));
    let prediction = sam.decode(embedding, &prompts, false);
    let _mask = sam.postprocess_masks(prediction.low_res_logits, &frame);
    device.sync()?;
    Ok((encoder, start.elapsed()))
}
