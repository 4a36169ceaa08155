//! The model side of the page: the S2M pipeline (`s2m_core::pipeline`:
//! prompt generator + MobileSAM) on the WebGPU device. The image embedding
//! is computed once per image and shared by the automatic segmentation and
//! the boxes the user draws. The score map is the one the user uploads, or
//! else the feature-novelty map of the image itself
//! (`s2m_core::scorer::novelty`, lone-frame mode). Everything read from the
//! GPU is read asynchronously (a synchronous read would abort the page).
//! The device is a [`WatchedGpu`]: a lost device or a GPU error (out of
//! memory) is a fault the page asks for, never a panic.

use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use s2m_core::detector::Detection;
use s2m_core::gpu_watch::{GpuFault, WatchedGpu};
use s2m_core::mask_metrics::resample_nearest;
use s2m_core::pipeline::{ImageEmbedding, Pipeline, PipelineConfig, Segmentation};
use s2m_core::readback::read_f32;
use s2m_core::sam::{Prompts, SamConfig};
use s2m_core::score_map_file::ScoreMap;
use s2m_core::scorer::novelty::{NoveltyConfig, novelty_map};
use s2m_core::weights::{detector_config_of, load_detector, load_sam};

/// Milliseconds spent in each stage of one S2M run (the SAM encoder's
/// time is [`Segmenter::set_image`]'s); each stage is read back before the
/// next starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub scorer: f64,
    pub generator: f64,
    pub sam_decoder: f64,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Logs a stage to the browser console (and so to the test's output).
fn log_stage(text: &str) {
    web_sys::console::log_1(&format!("s2m: {text}").into());
}

/// A weights file: its name (for messages) and bytes.
pub struct WeightsFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub struct Segmenter {
    pipeline: Pipeline,
    gpu: Rc<WatchedGpu>,
    device: Device,
    /// The embedding of the current image.
    image: Option<ImageEmbedding>,
}

impl Segmenter {
    /// A new WebGPU device whose faults are recorded; a browser without
    /// WebGPU gets an explanation.
    pub async fn open_gpu() -> Result<Rc<WatchedGpu>, String> {
        WatchedGpu::open().await.map(Rc::new).map_err(|e| {
            format!(
                "No usable GPU adapter ({}). This page needs WebGPU: use a recent Chrome, \
                 Edge or Firefox with WebGPU enabled.",
                e.0
            )
        })
    }

    /// Loads both models on `gpu`.
    pub fn new(
        gpu: Rc<WatchedGpu>,
        sam: WeightsFile,
        generator: WeightsFile,
    ) -> Result<Self, String> {
        let device = gpu.device.clone();
        let generator_config =
            detector_config_of(&generator.bytes, &generator.name).map_err(|e| e.to_string())?;
        let pipeline = Pipeline {
            generator: load_detector(&generator_config, generator.bytes, &generator.name, &device)
                .map_err(|e| e.to_string())?,
            sam: load_sam(&SamConfig::mobile_sam(), sam.bytes, &sam.name, &device)
                .map_err(|e| e.to_string())?,
            config: PipelineConfig::default(),
        };
        Ok(Self {
            pipeline,
            gpu,
            device,
            image: None,
        })
    }

    /// What went wrong on the GPU since the models were loaded, if
    /// anything: then no result of this segmenter can be trusted, and a
    /// new device and models are needed. Checked after every request.
    pub fn fault(&self) -> Option<GpuFault> {
        self.gpu.fault()
    }

    /// Embeds an RGB image and waits for the GPU to finish it; returns the
    /// milliseconds the SAM encoder took.
    pub async fn set_image(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
    ) -> Result<f64, String> {
        // A failed embedding leaves no image, not the previous one.
        self.image = None;
        let start = now_ms();
        let data: Vec<f32> = rgb.iter().map(|&v| v as f32).collect();
        let image = Tensor::<3>::from_data(TensorData::new(data, [height, width, 3]), &self.device);
        let embedded = self.pipeline.embed(image).map_err(|e| e.to_string())?;
        let first = embedded.embedding.clone().flatten::<1>(0, 3).slice([0..1]);
        read_f32(first, "the image embedding")
            .await
            .map_err(|e| e.to_string())?;
        self.image = Some(embedded);
        let elapsed = now_ms() - start;
        log_stage(&format!("SAM encoder {elapsed:.0} ms"));
        Ok(elapsed)
    }

    /// S2M on the current image: boxes from `score_map` (which must have
    /// the size of the full image, `full_size` (height, width), of which
    /// the models may see a downscaled copy) or from the image's novelty
    /// map, then their masks and the confidence map at the models' size;
    /// also the score map itself at the models' size, for the views.
    pub async fn segment(
        &self,
        score_map: Option<&ScoreMap>,
        full_size: Option<(usize, usize)>,
    ) -> Result<(Segmentation, Vec<f32>, StageTimes), String> {
        let image = self.image.as_ref().ok_or("no image yet")?;
        let (height, width) = image.image_size();
        let (full_height, full_width) = full_size.unwrap_or((height, width));
        let mut times = StageTimes::default();
        let start = now_ms();
        let (map, scores) = match score_map {
            Some(map) => {
                map.expect_size(full_height, full_width)
                    .map_err(|e| format!("the score map does not fit the image: {e}"))?;
                let scores =
                    resample_nearest(&map.values, (full_height, full_width), (height, width));
                (map.clone().into_tensor(&self.device), scores)
            }
            None => {
                let map = novelty_map(image, None, &NoveltyConfig::default());
                let [map_height, map_width] = map.dims();
                let values = read_f32(map.clone(), "the novelty map")
                    .await
                    .map_err(|e| e.to_string())?;
                let scores = resample_nearest(&values, (map_height, map_width), (height, width));
                (map, scores)
            }
        };
        times.scorer = now_ms() - start;
        log_stage(&format!("score map queued in {:.0} ms", times.scorer));
        let start = now_ms();
        let detections = self
            .pipeline
            .boxes(map, (height, width))
            .await
            .map_err(|e| e.to_string())?;
        times.generator = now_ms() - start;
        log_stage(&format!(
            "{} boxes in {:.0} ms",
            detections.len(),
            times.generator
        ));
        let start = now_ms();
        let confidence = self
            .pipeline
            .confidence(image, &detections)
            .await
            .map_err(|e| e.to_string())?;
        times.sam_decoder = now_ms() - start;
        log_stage(&format!("masks in {:.0} ms", times.sam_decoder));
        let result = Segmentation {
            height,
            width,
            detections,
            confidence,
        };
        Ok((result, scores, times))
    }

    /// The mask (row-major, original size) of one box the user drew.
    pub async fn mask_for_box(&self, b: [f32; 4]) -> Result<Vec<bool>, String> {
        let image = self.image.as_ref().ok_or("no image yet")?;
        let input_box = image.frame.boxes_to_input(&[b])[0];
        let prompts = Prompts::Boxes(Tensor::from_data(
            TensorData::new(input_box.to_vec(), [1, 4]),
            &self.device,
        ));
        let prediction = self
            .pipeline
            .sam
            .decode(image.embedding.clone(), &prompts, false);
        let logits = self
            .pipeline
            .sam
            .postprocess_masks(prediction.low_res_logits, &image.frame);
        let logits = read_f32(logits, "the mask")
            .await
            .map_err(|e| e.to_string())?;
        Ok(logits.into_iter().map(|logit| logit > 0.0).collect())
    }
}

/// The boxes of a result as `[x0, y0, x1, y1, score]`.
pub fn boxes_with_scores(detections: &[Detection]) -> Vec<[f32; 5]> {
    detections
        .iter()
        .map(|d| [d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3], d.score])
        .collect()
}
