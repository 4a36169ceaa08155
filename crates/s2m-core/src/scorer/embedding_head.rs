//! The anomaly head: a per-pixel anomaly score read off SAM's own image
//! embedding, the embedding the masks are decoded from (REFERENCE.md, "A
//! baseline scorer on SAM's image embedding"). It costs a few small
//! convolutions over the 64 x 64 token grid on top of the encoder the
//! pipeline runs anyway.
//!
//! The reference recipe is a linear probe: each 256-d token standardised
//! (mean / std over the training tokens) and scored by logistic
//! regression, the logits upsampled bilinearly to the frame. The head
//! keeps that probe as one branch ([`EmbeddingHead::probe`]) and adds
//! spatial context beside it: a 1x1 reduction, two 3x3 convolutions (the
//! second dilated by 2, so each token sees a 9 x 9 token neighbourhood),
//! and a 1x1 output. The two logits are summed:
//!
//! ```text
//! z = (embedding - mean) / std
//! logit = probe(z) + output(relu(context2(relu(context1(relu(reduce(z)))))))
//! score = sigmoid(logit), upsampled to the frame
//! ```
//!
//! The score is a probability (trained with binary cross-entropy on the
//! fraction of each token's pixels that are anomalous), upsampled exactly
//! as SAM upsamples its low-resolution mask logits
//! ([`postprocess_masks`]): to the 1024 input, cropped to the unpadded
//! area, resized to the frame. The logits are upsampled, then the sigmoid
//! is taken, so edges stay sharp between tokens.
//!
//! The prompt generator reads energy scores (REFERENCE.md: RPL's energy,
//! inliers near -16..-8, anomalies above -4; our generator's input is
//! normalised with mean -8 and std 5), so the pipeline hands it the
//! probabilities on that scale ([`energy_scale`]): `16 p - 16`, probability
//! 0 at -16, 0.5 at the generator's mean -8, 0.75 at -4, 1 at 0. The
//! scale is affine: thresholds, AP and every ranking are the same on both.
//!
//! Tensor names (`mean`, `std`, `probe.weight`, `reduce.weight`, ...) are
//! the safetensors names of the weights file; the parity fixture
//! (`tests/reference/embedding_head_reference.py`) builds the same network
//! in PyTorch.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

use crate::pipeline::ImageEmbedding;
use crate::sam::transforms::postprocess_masks;

/// The sizes of an [`EmbeddingHead`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingHeadConfig {
    /// Channels of the image embedding (256 for every SAM).
    pub embedding_channels: usize,
    /// Channels of the context branch.
    pub hidden_channels: usize,
}

impl Default for EmbeddingHeadConfig {
    fn default() -> Self {
        Self {
            embedding_channels: 256,
            hidden_channels: 32,
        }
    }
}

impl EmbeddingHeadConfig {
    /// The configuration whose parameters have the shapes of the named
    /// tensors (a weights file's header), or `None` when they are not an
    /// embedding head's.
    pub fn from_tensor_shapes<'a>(
        shapes: impl IntoIterator<Item = (&'a str, &'a [usize])>,
    ) -> Option<Self> {
        let mut embedding = None;
        let mut hidden = None;
        let mut names = 0;
        for (name, shape) in shapes {
            names += 1;
            match (name, shape) {
                ("mean", [c]) => embedding = Some(*c),
                ("reduce.weight", [h, _, 1, 1]) => hidden = Some(*h),
                _ => {}
            }
        }
        let config = Self {
            embedding_channels: embedding.filter(|&c| c > 0)?,
            hidden_channels: hidden.filter(|&h| h > 0)?,
        };
        // mean, std, and weight + bias of five convolutions.
        (names == 12).then_some(config)
    }

    pub fn init(&self, device: &Device) -> EmbeddingHead {
        let (c, h) = (self.embedding_channels, self.hidden_channels);
        let conv = |c_in, c_out, kernel: usize, dilation: usize| {
            let pad = dilation * (kernel / 2);
            Conv2dConfig::new([c_in, c_out], [kernel, kernel])
                .with_dilation([dilation, dilation])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device)
        };
        EmbeddingHead {
            mean: Initializer::Zeros.init([c], device).set_require_grad(false),
            std: Initializer::Ones.init([c], device).set_require_grad(false),
            probe: conv(c, 1, 1, 1),
            reduce: conv(c, h, 1, 1),
            context1: conv(h, h, 3, 1),
            context2: conv(h, h, 3, 2),
            output: conv(h, 1, 1, 1),
        }
    }
}

/// The anomaly head (see the module documentation).
#[derive(Module, Debug)]
pub struct EmbeddingHead {
    /// Per-channel mean of the training tokens (not trained).
    pub mean: Param<Tensor<1>>,
    /// Per-channel standard deviation of the training tokens (not trained).
    pub std: Param<Tensor<1>>,
    /// The linear probe: a 1x1 convolution to one logit.
    pub probe: Conv2d,
    pub reduce: Conv2d,
    pub context1: Conv2d,
    pub context2: Conv2d,
    pub output: Conv2d,
}

impl EmbeddingHead {
    /// The anomaly logit of every token: `[N, 256, h, w]` -> `[N, 1, h, w]`.
    pub fn forward(&self, embedding: Tensor<4>) -> Tensor<4> {
        let c = self.mean.dims()[0];
        let mean = self.mean.val().reshape([1, c, 1, 1]);
        let std = self.std.val().reshape([1, c, 1, 1]);
        let z = (embedding - mean) / std;
        let context = relu(self.reduce.forward(z.clone()));
        let context = relu(self.context1.forward(context));
        let context = relu(self.context2.forward(context));
        self.probe.forward(z) + self.output.forward(context)
    }

    /// The anomaly score map `[H, W]` of the embedded frame: the probability
    /// that each pixel is anomalous.
    pub fn score_map(&self, image: &ImageEmbedding) -> Tensor<2> {
        let (h, w) = image.image_size();
        let logits = self.forward(image.embedding.clone());
        sigmoid(postprocess_masks(logits, &image.frame)).reshape([h, w])
    }
}

/// Energy per unit of probability, and the energy of probability 0.
const ENERGY_SLOPE: f32 = 16.0;
const ENERGY_AT_ZERO: f32 = -16.0;

/// The head's probabilities `p` on the energy scale the prompt generator
/// reads: `16 p - 16` (see the module documentation).
pub fn energy_scale(probabilities: Tensor<2>) -> Tensor<2> {
    probabilities
        .mul_scalar(ENERGY_SLOPE)
        .add_scalar(ENERGY_AT_ZERO)
}

/// [`energy_scale`] of one probability.
pub fn energy_of(probability: f32) -> f32 {
    ENERGY_SLOPE * probability + ENERGY_AT_ZERO
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sam::transforms::ImageFrame;
    use burn::tensor::TensorData;

    #[test]
    fn probabilities_map_onto_the_energy_scale() {
        let p = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 0.5, 0.75, 1.0], [2, 2]),
            &Device::flex(),
        );
        let energy: Vec<f32> = energy_scale(p).into_data().try_to_vec().unwrap();
        assert_eq!(energy, vec![-16.0, -8.0, -4.0, 0.0]);
        assert_eq!(energy_of(0.75), -4.0);
    }

    #[test]
    fn the_configuration_is_read_back_from_the_tensor_shapes() {
        let device = Device::flex();
        let config = EmbeddingHeadConfig {
            embedding_channels: 8,
            hidden_channels: 3,
        };
        let head = config.init(&device);
        let shapes: Vec<(String, Vec<usize>)> = [
            ("mean", head.mean.dims().to_vec()),
            ("std", head.std.dims().to_vec()),
            ("probe.weight", head.probe.weight.dims().to_vec()),
            ("probe.bias", vec![1]),
            ("reduce.weight", head.reduce.weight.dims().to_vec()),
            ("reduce.bias", vec![3]),
            ("context1.weight", head.context1.weight.dims().to_vec()),
            ("context1.bias", vec![3]),
            ("context2.weight", head.context2.weight.dims().to_vec()),
            ("context2.bias", vec![3]),
            ("output.weight", head.output.weight.dims().to_vec()),
            ("output.bias", vec![1]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
        let read = EmbeddingHeadConfig::from_tensor_shapes(
            shapes.iter().map(|(n, s)| (n.as_str(), s.as_slice())),
        );
        assert_eq!(read, Some(config));
        let fewer = EmbeddingHeadConfig::from_tensor_shapes(
            shapes[..11].iter().map(|(n, s)| (n.as_str(), s.as_slice())),
        );
        assert_eq!(fewer, None);
    }

    #[test]
    fn the_score_map_has_the_frame_size_and_follows_the_tokens() {
        let device = Device::flex();
        let config = EmbeddingHeadConfig {
            embedding_channels: 4,
            hidden_channels: 2,
        };
        let mut head = config.init(&device);
        // Context branch silenced; the probe reads channel 0 only.
        head.output.weight = head.output.weight.map(|w| w.zeros_like());
        head.output.bias = head.output.bias.map(|b| b.map(|b| b.zeros_like()));
        head.probe.weight = head.probe.weight.map(|w| {
            Tensor::from_data(
                TensorData::new(vec![4.0f32, 0.0, 0.0, 0.0], [1, 4, 1, 1]),
                &w.device(),
            )
        });
        head.probe.bias = head
            .probe
            .bias
            .map(|b| b.map(|b| b.zeros_like().sub_scalar(2.0)));
        // A 4 x 4 token grid whose top-left token is hot, for a 30 x 60
        // frame (input 8, resized 4 x 8: the bottom two token rows are pad).
        let mut values = vec![0.0f32; 4 * 16];
        values[0] = 1.0;
        let embedding = Tensor::<4>::from_data(TensorData::new(values, [1, 4, 4, 4]), &device);
        let image = ImageEmbedding {
            embedding,
            frame: ImageFrame::new((30, 60), 8),
        };
        let map: Vec<f32> = head
            .score_map(&image)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(map.len(), 30 * 60);
        let at = |y: usize, x: usize| map[y * 60 + x];
        assert!(at(0, 0) > 0.85, "hot token: {}", at(0, 0));
        assert!(at(29, 59) < 0.13, "cold token: {}", at(29, 59));
        assert!(map.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
