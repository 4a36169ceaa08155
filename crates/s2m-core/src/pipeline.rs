//! The S2M pipeline (REFERENCE.md, "The pipeline (inference)", items 2-5):
//! score map -> prompt-generator boxes -> one SAM mask per box -> the union
//! of the masks, each pixel carrying the LOWEST score of the boxes whose
//! masks cover it (detections written in descending score order, later
//! ones overwrite). No box -> an all-zero map; the threshold-free binary
//! result is "confidence > 0".
//!
//! The image embedding is computed once and shared by every box. The stages
//! are separate methods so that callers (the CLI's per-stage timings, the
//! browser's progress) can run them one by one; [`Pipeline::segment`] runs
//! them all. On a GPU backend the SAM encoder is enqueued before the
//! generator's first read-back, so the device works on both while the host
//! waits; the CPU backend runs them one after the other.
//!
//! Boxes come out of the generator in score-map pixels; they are scaled to
//! the image when the score map has another size (REFERENCE.md item 5: the
//! paper's maps are image-sized, ours may come from a scorer at another
//! resolution or from the optional generator resolution below).

use burn::tensor::{Tensor, TensorData};

use crate::detector::{Detection, Detector, DetectorError};
use crate::readback::{ReadbackError, read_f32};
use crate::sam::transforms::{ImageFrame, bilinear};
use crate::sam::{Prompts, Sam};

/// Settings of the pipeline that are not part of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// The shorter side the score map is resized to before the generator
    /// (bilinear); `None` runs the generator on the map as it is (the
    /// paper: no resize at test time). Boxes return in image pixels either
    /// way.
    pub generator_short_side: Option<usize>,
    /// Boxes decoded by SAM at once: each holds a mask at image size while
    /// the confidence map is folded, so this bounds the memory.
    pub masks_per_batch: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            generator_short_side: None,
            masks_per_batch: 8,
        }
    }
}

/// The largest score map the prompt generator is given after
/// [`PipelineConfig::generator_short_side`]'s resize: 64 Mpixels
/// (8192 x 8192), beyond any frame a benchmark or dashcam has.
pub const MAX_GENERATOR_PIXELS: usize = 1 << 26;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the image must be [height, width, 3] RGB with both sides > 0, got {0:?}")]
    ImageShape([usize; 3]),
    #[error("the score map has a side of 0 ({0}x{1})")]
    EmptyScoreMap(usize, usize),
    #[error(
        "the generator's input would be {0}x{1} pixels, over {max} (choose a smaller generator size)",
        max = MAX_GENERATOR_PIXELS
    )]
    GeneratorInputTooLarge(f64, f64),
    #[error(transparent)]
    Detector(#[from] DetectorError),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// SAM's image embedding and the frame that maps image pixels to its input.
pub struct ImageEmbedding {
    pub embedding: Tensor<4>,
    pub frame: ImageFrame,
}

impl ImageEmbedding {
    /// (height, width) of the embedded image.
    pub fn image_size(&self) -> (usize, usize) {
        self.frame.original
    }
}

/// The result for one image.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Segmentation {
    pub height: usize,
    pub width: usize,
    /// The generator's boxes in image pixels, by decreasing score.
    pub detections: Vec<Detection>,
    /// `height * width` row-major: the lowest score among the detections
    /// whose masks cover the pixel, 0 where no mask does.
    pub confidence: Vec<f32>,
}

impl Segmentation {
    /// The threshold-free binary mask: confidence > 0.
    pub fn mask(&self) -> Vec<bool> {
        self.confidence.iter().map(|&c| c > 0.0).collect()
    }
}

/// Above every detection score (softmax probabilities): marks pixels that
/// no mask covers while the minimum is folded.
const UNCOVERED: f32 = 2.0;

/// The prompt generator and SAM, on one device.
pub struct Pipeline {
    pub generator: Detector,
    pub sam: Sam,
    pub config: PipelineConfig,
}

impl Pipeline {
    /// SAM's embedding of `image` (`[H, W, 3]` RGB in 0..=255).
    pub fn embed(&self, image: Tensor<3>) -> Result<ImageEmbedding, PipelineError> {
        let dims = image.dims();
        if dims[0] == 0 || dims[1] == 0 || dims[2] != 3 {
            return Err(PipelineError::ImageShape(dims));
        }
        let (input, frame) = self.sam.preprocess(image);
        Ok(ImageEmbedding {
            embedding: self.sam.embed(input),
            frame,
        })
    }

    /// The generator's boxes for `score_map` (`[h, w]`), in the pixels of
    /// an image of `image_size` (height, width).
    pub async fn boxes(
        &self,
        score_map: Tensor<2>,
        image_size: (usize, usize),
    ) -> Result<Vec<Detection>, PipelineError> {
        let [h, w] = score_map.dims();
        if h == 0 || w == 0 {
            return Err(PipelineError::EmptyScoreMap(h, w));
        }
        let score_map = match self.config.generator_short_side {
            Some(short) => {
                let scale = short as f64 / h.min(w) as f64;
                let (sh, sw) = ((h as f64 * scale).round(), (w as f64 * scale).round());
                if sh * sw > MAX_GENERATOR_PIXELS as f64 {
                    return Err(PipelineError::GeneratorInputTooLarge(sh, sw));
                }
                let size = [(sh as usize).max(1), (sw as usize).max(1)];
                bilinear(score_map.unsqueeze::<4>(), size).reshape(size)
            }
            None => score_map,
        };
        let [gh, gw] = score_map.dims();
        let sx = image_size.1 as f32 / gw as f32;
        let sy = image_size.0 as f32 / gh as f32;
        let mut detections = self.generator.detect(score_map).await?;
        for d in &mut detections {
            d.bbox = [
                d.bbox[0] * sx,
                d.bbox[1] * sy,
                d.bbox[2] * sx,
                d.bbox[3] * sy,
            ];
        }
        Ok(detections)
    }

    /// The confidence map (`height * width` of the embedded image) of
    /// `detections`: SAM's mask of each box, the lowest score winning.
    pub async fn confidence(
        &self,
        image: &ImageEmbedding,
        detections: &[Detection],
    ) -> Result<Vec<f32>, PipelineError> {
        let (h, w) = image.image_size();
        if detections.is_empty() {
            return Ok(vec![0.0; h * w]);
        }
        let device = image.embedding.device();
        let mut lowest: Option<Tensor<2>> = None;
        for batch in detections.chunks(self.config.masks_per_batch.max(1)) {
            let n = batch.len();
            let boxes: Vec<[f32; 4]> = batch.iter().map(|d| d.bbox).collect();
            let flat: Vec<f32> = image
                .frame
                .boxes_to_input(&boxes)
                .into_iter()
                .flatten()
                .collect();
            let prompts = Prompts::Boxes(Tensor::from_data(TensorData::new(flat, [n, 4]), &device));
            let logits = self
                .sam
                .decode(image.embedding.clone(), &prompts, false)
                .low_res_logits;
            let masks = self
                .sam
                .postprocess_masks(logits, &image.frame)
                .reshape([n, h, w]);
            let scores: Vec<f32> = batch.iter().map(|d| d.score).collect();
            let scores = Tensor::<3>::from_data(TensorData::new(scores, [n, 1, 1]), &device)
                .expand([n, h, w]);
            let batch_lowest = scores
                .mask_fill(masks.lower_equal_elem(0.0), UNCOVERED)
                .min_dim(0)
                .reshape([h, w]);
            lowest = Some(match lowest {
                Some(l) => l.min_pair(batch_lowest),
                None => batch_lowest,
            });
        }
        let lowest = lowest.expect("at least one detection");
        let confidence = lowest
            .clone()
            .mask_fill(lowest.greater_equal_elem(UNCOVERED), 0.0);
        Ok(read_f32(confidence, "the confidence map").await?)
    }

    /// Image (`[H, W, 3]` RGB 0..=255) and its score map -> segmentation.
    pub async fn segment(
        &self,
        image: Tensor<3>,
        score_map: Tensor<2>,
    ) -> Result<Segmentation, PipelineError> {
        let embedded = self.embed(image)?;
        let (height, width) = embedded.image_size();
        let detections = self.boxes(score_map, (height, width)).await?;
        let confidence = self.confidence(&embedded, &detections).await?;
        Ok(Segmentation {
            height,
            width,
            detections,
            confidence,
        })
    }
}
