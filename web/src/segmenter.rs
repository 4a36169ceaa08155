//! The model side of the page: MobileSAM on the WebGPU device, the image
//! embedding computed once per image, masks read back asynchronously (a
//! synchronous GPU read would abort the page).

use burn::tensor::{Device, Tensor, TensorData};
use s2m_core::device::{Backend, open_device_async};
use s2m_core::sam::{ImageFrame, Prompts, Sam, SamConfig};
use s2m_core::weights::load_sam;

pub struct Segmenter {
    sam: Sam,
    device: Device,
    /// The embedding and frame of the current image.
    image: Option<(Tensor<4>, ImageFrame)>,
}

impl Segmenter {
    /// Opens the WebGPU device and loads the model. A browser without
    /// WebGPU gets an explanation.
    pub async fn new(config: &SamConfig, bytes: Vec<u8>, file: &str) -> Result<Self, String> {
        let device = open_device_async(Backend::Wgpu).await.map_err(|e| {
            format!("{e}. This page needs WebGPU: use a recent Chrome, Edge or Firefox with WebGPU enabled.")
        })?;
        let sam = load_sam(config, bytes, file, &device).map_err(|e| e.to_string())?;
        Ok(Self {
            sam,
            device,
            image: None,
        })
    }

    /// Embeds an RGB image (the work is queued on the GPU; it completes
    /// before the first mask is read).
    pub fn set_image(&mut self, rgb: &[u8], width: usize, height: usize) {
        let data: Vec<f32> = rgb.iter().map(|&v| v as f32).collect();
        let image = Tensor::<3>::from_data(TensorData::new(data, [height, width, 3]), &self.device);
        let (input, frame) = self.sam.preprocess(image);
        self.image = Some((self.sam.embed(input), frame));
    }

    /// The mask (row-major, original size) of one box in image pixels.
    pub async fn mask_for_box(&self, b: [f32; 4]) -> Result<Vec<bool>, String> {
        let (embedding, frame) = self.image.as_ref().ok_or("no image yet")?;
        let input_box = frame.boxes_to_input(&[b])[0];
        let prompts = Prompts::Boxes(Tensor::from_data(
            TensorData::new(input_box.to_vec(), [1, 4]),
            &self.device,
        ));
        let prediction = self.sam.decode(embedding.clone(), &prompts, false);
        let logits = self.sam.postprocess_masks(prediction.low_res_logits, frame);
        let data = logits
            .into_data_async()
            .await
            .map_err(|e| format!("reading the mask from the GPU failed: {e:?}"))?;
        let logits = data
            .try_to_vec::<f32>()
            .map_err(|e| format!("unexpected mask data: {e:?}"))?;
        Ok(logits.into_iter().map(|logit| logit > 0.0).collect())
    }
}
