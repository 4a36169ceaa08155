//! Atrous spatial pyramid pooling, as `_AtrousSpatialPyramidPoolingModule`
//! of the reference's `wide_network.py` with `output_stride=8`: an image
//! pooling branch (global average, 1x1 conv + BN + ReLU, broadcast back to
//! the map: the reference's bilinear upsampling of a 1x1 map), a 1x1 branch
//! and three dilated 3x3 branches (dilations (6, 12, 18) doubled), each
//! conv + BN + ReLU, concatenated in that order (5 x `aspp_channels`).

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::layers::ConvBnRelu;

#[derive(Module, Debug)]
pub struct Aspp {
    /// The 1x1 branch, then one 3x3 branch per rate.
    pub features: Vec<ConvBnRelu>,
    pub img_conv: ConvBnRelu,
}

impl Aspp {
    pub fn new(c_in: usize, channels: usize, rates: [usize; 3], device: &Device) -> Self {
        let mut features = vec![ConvBnRelu::new(c_in, channels, 1, 1, device)];
        features.extend(
            rates
                .iter()
                .map(|&rate| ConvBnRelu::new(c_in, channels, 3, rate, device)),
        );
        Self {
            features,
            img_conv: ConvBnRelu::new(c_in, channels, 1, 1, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, _, h, w] = x.dims();
        let pooled = x.clone().mean_dim(3).mean_dim(2);
        let image = self.img_conv.forward(pooled);
        let c = image.dims()[1];
        let mut branches = vec![image.expand([b, c, h, w])];
        branches.extend(self.features.iter().map(|f| f.forward(x.clone())));
        Tensor::cat(branches, 1)
    }
}
