//! The models, in the model worker ([`crate::model_worker`]): the S2M
//! pipeline (`s2m_core::pipeline`: prompt generator + MobileSAM) on the
//! WebGPU device or the CPU. The image embedding is computed once per
//! image and shared by the automatic segmentation and the boxes the user
//! draws. The score map is the one the user uploads, or else the anomaly
//! head's map of the image, read off that same embedding
//! (`s2m_core::scorer::embedding_head`). Everything read from the GPU is read asynchronously
//! (a synchronous read would abort). The device is a [`WatchedGpu`]: a
//! lost device or a GPU error (out of memory) is a fault the page hears
//! of with every reply, never a panic. Without WebGPU, or on a software
//! adapter, the models run on the CPU ([`Compute::Cpu`]).

use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use s2m_core::detector::Detection;
use s2m_core::gpu_watch::{GpuFault, WatchedGpu};
use s2m_core::mask_metrics::resample_nearest;
use s2m_core::pipeline::{ImageEmbedding, Pipeline, PipelineConfig, Segmentation};
use s2m_core::readback::read_f32;
use s2m_core::sam::{Prompts, SamConfig};
use s2m_core::score_map_file::ScoreMap;
use s2m_core::scorer::{EmbeddingHead, energy_scale};
use s2m_core::weights::{detector_config_of, load_detector, load_embedding_head, load_sam};
use serde::{Deserialize, Serialize};

/// Milliseconds spent in each stage of one S2M run (the SAM encoder's
/// time is [`Models::set_image`]'s); each stage is read back before the
/// next starts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
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
#[derive(Debug, Serialize, Deserialize)]
pub struct WeightsFile {
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// Where the user wants the models to run (`?compute=` on the page, the
/// widget's `compute` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComputeChoice {
    /// WebGPU on a hardware adapter, else the CPU (the default).
    Auto,
    /// WebGPU on whatever adapter the browser gives (the CPU without one).
    WebGpu,
    Cpu,
}

impl ComputeChoice {
    /// `auto`, `webgpu` or `cpu`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "auto" | "" => Ok(Self::Auto),
            "webgpu" => Ok(Self::WebGpu),
            "cpu" => Ok(Self::Cpu),
            other => Err(format!(
                "compute=`{other}` is not a choice: auto, webgpu or cpu"
            )),
        }
    }

    /// Where the models run, and why on the CPU when they do.
    pub async fn resolve(self) -> (Compute, Option<String>) {
        if self == Self::Cpu {
            return (
                Compute::Cpu,
                Some("The models run on the CPU, as asked.".into()),
            );
        }
        match WatchedGpu::open().await {
            Ok(gpu) if self == Self::Auto && gpu.is_software() => {
                gpu.destroy();
                let name = match gpu.adapter_name.as_str() {
                    "" => "no name given".to_owned(),
                    name => name.to_owned(),
                };
                (
                    Compute::Cpu,
                    Some(format!(
                        "WebGPU here runs on a software adapter ({name}), slower than the \
                         CPU path: the models run on the CPU (compute=webgpu uses it anyway)."
                    )),
                )
            }
            Ok(gpu) => (Compute::Gpu(Rc::new(gpu)), None),
            Err(e) => {
                web_sys::console::warn_1(&format!("s2m: no WebGPU: {}", e.0).into());
                (
                    Compute::Cpu,
                    Some(
                        "This browser has no WebGPU (use a recent Chrome, Edge or Firefox with \
                         WebGPU enabled for your GPU): the models run on the CPU instead, much \
                         slower."
                            .into(),
                    ),
                )
            }
        }
    }
}

/// Where the models run: a watched WebGPU device, or the CPU (Burn's
/// flex backend compiled to WebAssembly, one thread) where the browser has
/// no WebGPU.
#[derive(Clone)]
pub enum Compute {
    Gpu(Rc<WatchedGpu>),
    Cpu,
}

impl Compute {
    fn device(&self) -> Device {
        match self {
            Self::Gpu(gpu) => gpu.device.clone(),
            Self::Cpu => Device::flex(),
        }
    }

    /// The first GPU fault, if any (never on the CPU).
    pub fn fault(&self) -> Option<GpuFault> {
        match self {
            Self::Gpu(gpu) => gpu.fault(),
            Self::Cpu => None,
        }
    }
}

pub struct Models {
    pipeline: Pipeline,
    head: EmbeddingHead,
    compute: Compute,
    /// The embedding of the current image.
    image: Option<ImageEmbedding>,
}

impl Models {
    /// Loads the models where `compute` says.
    pub fn new(
        compute: Compute,
        sam: WeightsFile,
        generator: WeightsFile,
        head: WeightsFile,
    ) -> Result<Self, String> {
        let device = compute.device();
        let generator_config =
            detector_config_of(&generator.bytes, &generator.name).map_err(|e| e.to_string())?;
        let pipeline = Pipeline {
            generator: load_detector(&generator_config, generator.bytes, &generator.name, &device)
                .map_err(|e| e.to_string())?,
            sam: load_sam(&SamConfig::mobile_sam(), sam.bytes, &sam.name, &device)
                .map_err(|e| e.to_string())?,
            config: PipelineConfig::default(),
        };
        let head =
            load_embedding_head(head.bytes, &head.name, &device).map_err(|e| e.to_string())?;
        Ok(Self {
            pipeline,
            head,
            compute,
            image: None,
        })
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
        let image = Tensor::<3>::from_data(
            TensorData::new(data, [height, width, 3]),
            &self.compute.device(),
        );
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
    /// the models may see a downscaled copy) or from the anomaly head's
    /// map of the image, then their masks and the confidence map at the models' size;
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
        // The generator reads the uploaded map as it is, the head's
        // probabilities on its energy scale.
        let (map, scores) = match score_map {
            Some(map) => {
                map.expect_size(full_height, full_width)
                    .map_err(|e| format!("the score map does not fit the image: {e}"))?;
                let scores =
                    resample_nearest(&map.values, (full_height, full_width), (height, width));
                (map.clone().into_tensor(&self.compute.device()), scores)
            }
            None => {
                let map = self.head.score_map(image);
                let scores = read_f32(map.clone(), "the anomaly head's map")
                    .await
                    .map_err(|e| e.to_string())?;
                (energy_scale(map), scores)
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
            &self.compute.device(),
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
