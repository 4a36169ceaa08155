//! Segment Anything (Kirillov et al., ICCV 2023,
//! <https://arxiv.org/abs/2304.02643>) and MobileSAM (Zhang et al. 2023,
//! <https://arxiv.org/abs/2306.14289>) in Burn.
//!
//! One module per submodule of the reference code
//! (`segment_anything/modeling/*.py`); field names mirror the PyTorch
//! state-dict names so converted checkpoints load without renaming beyond
//! `nn.Sequential` indices (see `s2m-weights::key_map`).
//!
//! Usage: [`Sam::preprocess`] an RGB image, [`Sam::embed`] it once, then
//! [`Sam::decode`] any number of prompts against the embedding and
//! [`Sam::postprocess_masks`] the logits back to the original size.

pub mod image_encoder;
pub mod mask_decoder;
pub mod prompt_encoder;
pub mod tiny_vit;
pub mod transforms;
pub mod two_way_transformer;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

pub use image_encoder::{ImageEncoderVit, VitConfig};
pub use mask_decoder::{MaskDecoder, MaskDecoderConfig, MaskPrediction};
pub use prompt_encoder::{PromptEncoder, Prompts};
pub use tiny_vit::{TinyVit, TinyVitConfig};
pub use transforms::ImageFrame;

/// Which image encoder a SAM model uses.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageEncoderConfig {
    Vit(VitConfig),
    TinyVit(TinyVitConfig),
}

#[derive(Module, Debug)]
pub enum ImageEncoder {
    Vit(ImageEncoderVit),
    TinyVit(TinyVit),
}

impl ImageEncoder {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Vit(vit) => vit.forward(x),
            Self::TinyVit(tiny) => tiny.forward(x),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SamConfig {
    pub image_encoder: ImageEncoderConfig,
    pub prompt_embed_dim: usize,
    /// Side of the square model input (1024 for SAM).
    pub input_size: usize,
    /// Side of the image embedding grid (input / 16).
    pub grid_size: usize,
    pub mask_in_chans: usize,
    pub mask_decoder: MaskDecoderConfig,
}

impl SamConfig {
    fn with_encoder(image_encoder: ImageEncoderConfig) -> Self {
        Self {
            image_encoder,
            prompt_embed_dim: 256,
            input_size: 1024,
            grid_size: 64,
            mask_in_chans: 16,
            mask_decoder: MaskDecoderConfig::sam(),
        }
    }

    pub fn mobile_sam() -> Self {
        Self::with_encoder(ImageEncoderConfig::TinyVit(TinyVitConfig::mobile_sam()))
    }

    pub fn vit_b() -> Self {
        Self::with_encoder(ImageEncoderConfig::Vit(VitConfig::vit_b()))
    }

    pub fn vit_l() -> Self {
        Self::with_encoder(ImageEncoderConfig::Vit(VitConfig::vit_l()))
    }

    pub fn vit_h() -> Self {
        Self::with_encoder(ImageEncoderConfig::Vit(VitConfig::vit_h()))
    }

    /// The configuration of a model name used in the weights manifest
    /// (`mobile_sam`, `sam_vit_b`, `sam_vit_l`, `sam_vit_h`).
    pub fn from_model_name(name: &str) -> Option<Self> {
        match name {
            "mobile_sam" => Some(Self::mobile_sam()),
            "sam_vit_b" => Some(Self::vit_b()),
            "sam_vit_l" => Some(Self::vit_l()),
            "sam_vit_h" => Some(Self::vit_h()),
            _ => None,
        }
    }

    /// A model with placeholder parameters, to be overwritten by
    /// [`crate::weights::load_sam`].
    pub fn init(&self, device: &Device) -> Sam {
        let image_encoder = match &self.image_encoder {
            ImageEncoderConfig::Vit(c) => ImageEncoder::Vit(c.init(device)),
            ImageEncoderConfig::TinyVit(c) => ImageEncoder::TinyVit(c.init(device)),
        };
        Sam {
            image_encoder,
            prompt_encoder: PromptEncoder::new(
                self.prompt_embed_dim,
                self.grid_size,
                self.input_size,
                self.mask_in_chans,
                device,
            ),
            mask_decoder: self.mask_decoder.init(device),
            input_size: self.input_size,
        }
    }
}

#[derive(Module, Debug)]
pub struct Sam {
    pub image_encoder: ImageEncoder,
    pub prompt_encoder: PromptEncoder,
    pub mask_decoder: MaskDecoder,
    pub input_size: usize,
}

impl Sam {
    /// Resizes (longest side to the input size), normalises and pads an RGB
    /// image `[H, W, 3]` with values in 0..=255 into the model input
    /// `[1, 3, S, S]`; the frame maps prompts and masks between the two.
    pub fn preprocess(&self, image: Tensor<3>) -> (Tensor<4>, ImageFrame) {
        transforms::preprocess(image, self.input_size)
    }

    /// The image embedding `[1, C, grid, grid]` of a pre-processed image.
    pub fn embed(&self, input: Tensor<4>) -> Tensor<4> {
        self.image_encoder.forward(input)
    }

    /// Mask logits for each prompt of the batch (prompts in the model's
    /// input frame, see [`ImageFrame::boxes_to_input`]).
    pub fn decode(
        &self,
        embedding: Tensor<4>,
        prompts: &Prompts,
        multimask_output: bool,
    ) -> MaskPrediction {
        let (sparse, dense) = self.prompt_encoder.forward(prompts);
        let image_pe = self.prompt_encoder.dense_pe(&embedding.device());
        self.mask_decoder
            .forward(embedding, image_pe, sparse, dense, multimask_output)
    }

    /// Low-resolution logits to logits at the original image size
    /// `[N, masks, H, W]`; a pixel belongs to the mask where the logit > 0.
    pub fn postprocess_masks(&self, low_res_logits: Tensor<4>, frame: &ImageFrame) -> Tensor<4> {
        transforms::postprocess_masks(low_res_logits, frame)
    }

    /// Logits at the original size `[N, H, W]` for N box prompts (XYXY in
    /// the pixels of `image`, `[H, W, 3]` RGB 0..=255), one mask per box
    /// (`multimask_output = false`), the image embedded once.
    pub fn masks_for_boxes(&self, image: Tensor<3>, boxes: &[[f32; 4]]) -> Tensor<3> {
        let device = image.device();
        let (input, frame) = self.preprocess(image);
        let embedding = self.embed(input);
        let flat: Vec<f32> = frame.boxes_to_input(boxes).into_iter().flatten().collect();
        let prompts = Prompts::Boxes(Tensor::from_data(
            TensorData::new(flat, [boxes.len(), 4]),
            &device,
        ));
        let prediction = self.decode(embedding, &prompts, false);
        let [h, w] = [frame.original.0, frame.original.1];
        self.postprocess_masks(prediction.low_res_logits, &frame)
            .reshape([boxes.len(), h, w])
    }

    /// The union of the masks of N box prompts as logits `[H, W]`: the
    /// maximum over the boxes, so a pixel is in the union where it is > 0.
    /// Masks are read back as logits and thresholded by the caller, which
    /// keeps the read-back independent of how a backend stores booleans.
    pub fn union_logits_for_boxes(&self, image: Tensor<3>, boxes: &[[f32; 4]]) -> Tensor<2> {
        self.masks_for_boxes(image, boxes).max_dim(0).squeeze_dim(0)
    }
}
