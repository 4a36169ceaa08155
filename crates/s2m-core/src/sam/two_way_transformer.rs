//! SAM's two-way transformer: prompt tokens attend to the image embedding
//! and the image embedding attends back to the tokens.
//!
//! Follows `segment_anything/modeling/transformer.py` (`TwoWayTransformer`,
//! `TwoWayAttentionBlock`, `Attention` with an internal width reduced by
//! `downsample_rate` in the cross attentions). LayerNorm eps 1e-5.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::nn::scaled_dot_product_attention;

#[derive(Module, Debug)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub out_proj: Linear,
    pub num_heads: usize,
}

impl Attention {
    fn new(dim: usize, num_heads: usize, downsample_rate: usize, device: &Device) -> Self {
        let internal = dim / downsample_rate;
        Self {
            q_proj: LinearConfig::new(dim, internal).init(device),
            k_proj: LinearConfig::new(dim, internal).init(device),
            v_proj: LinearConfig::new(dim, internal).init(device),
            out_proj: LinearConfig::new(internal, dim).init(device),
            num_heads,
        }
    }

    fn separate_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, n, c] = x.dims();
        x.reshape([b, n, self.num_heads, c / self.num_heads])
            .swap_dims(1, 2)
    }

    fn forward(&self, q: Tensor<3>, k: Tensor<3>, v: Tensor<3>) -> Tensor<3> {
        let q = self.separate_heads(self.q_proj.forward(q));
        let k = self.separate_heads(self.k_proj.forward(k));
        let v = self.separate_heads(self.v_proj.forward(v));
        let [b, h, n, hd] = q.dims();
        let out = scaled_dot_product_attention(q, k, v, (hd as f64).powf(-0.5), None);
        self.out_proj
            .forward(out.swap_dims(1, 2).reshape([b, n, h * hd]))
    }
}

/// Linear, ReLU, linear.
#[derive(Module, Debug)]
pub struct TransformerMlp {
    pub lin1: Linear,
    pub lin2: Linear,
}

#[derive(Module, Debug)]
pub struct TwoWayAttentionBlock {
    pub self_attn: Attention,
    pub norm1: LayerNorm,
    pub cross_attn_token_to_image: Attention,
    pub norm2: LayerNorm,
    pub mlp: TransformerMlp,
    pub norm3: LayerNorm,
    pub norm4: LayerNorm,
    pub cross_attn_image_to_token: Attention,
    pub skip_first_layer_pe: bool,
}

impl TwoWayAttentionBlock {
    fn forward(
        &self,
        queries: Tensor<3>,
        keys: Tensor<3>,
        query_pe: Tensor<3>,
        key_pe: Tensor<3>,
    ) -> (Tensor<3>, Tensor<3>) {
        let queries = if self.skip_first_layer_pe {
            self.self_attn
                .forward(queries.clone(), queries.clone(), queries)
        } else {
            let q = queries.clone() + query_pe.clone();
            queries.clone() + self.self_attn.forward(q.clone(), q, queries)
        };
        let queries = self.norm1.forward(queries);

        let q = queries.clone() + query_pe.clone();
        let k = keys.clone() + key_pe.clone();
        let queries = queries + self.cross_attn_token_to_image.forward(q, k, keys.clone());
        let queries = self.norm2.forward(queries);

        let mlp_out = self
            .mlp
            .lin2
            .forward(relu(self.mlp.lin1.forward(queries.clone())));
        let queries = self.norm3.forward(queries + mlp_out);

        let q = queries.clone() + query_pe;
        let k = keys.clone() + key_pe;
        let keys = keys
            + self
                .cross_attn_image_to_token
                .forward(k, q, queries.clone());
        let keys = self.norm4.forward(keys);
        (queries, keys)
    }
}

#[derive(Module, Debug)]
pub struct TwoWayTransformer {
    pub layers: Vec<TwoWayAttentionBlock>,
    pub final_attn_token_to_image: Attention,
    pub norm_final_attn: LayerNorm,
}

impl TwoWayTransformer {
    pub fn new(
        depth: usize,
        dim: usize,
        num_heads: usize,
        mlp_dim: usize,
        device: &Device,
    ) -> Self {
        let norm = || LayerNormConfig::new(dim).init(device);
        let layers = (0..depth)
            .map(|i| TwoWayAttentionBlock {
                self_attn: Attention::new(dim, num_heads, 1, device),
                norm1: norm(),
                cross_attn_token_to_image: Attention::new(dim, num_heads, 2, device),
                norm2: norm(),
                mlp: TransformerMlp {
                    lin1: LinearConfig::new(dim, mlp_dim).init(device),
                    lin2: LinearConfig::new(mlp_dim, dim).init(device),
                },
                norm3: norm(),
                norm4: norm(),
                cross_attn_image_to_token: Attention::new(dim, num_heads, 2, device),
                skip_first_layer_pe: i == 0,
            })
            .collect();
        Self {
            layers,
            final_attn_token_to_image: Attention::new(dim, num_heads, 2, device),
            norm_final_attn: norm(),
        }
    }

    /// `image_embedding`, `image_pe`: `[B, C, H, W]`; `point_embedding`:
    /// `[B, tokens, C]`. Returns the processed tokens and image keys
    /// `[B, H*W, C]`.
    pub fn forward(
        &self,
        image_embedding: Tensor<4>,
        image_pe: Tensor<4>,
        point_embedding: Tensor<3>,
    ) -> (Tensor<3>, Tensor<3>) {
        let image_embedding = image_embedding.flatten::<3>(2, 3).swap_dims(1, 2);
        let image_pe = image_pe.flatten::<3>(2, 3).swap_dims(1, 2);
        let mut queries = point_embedding.clone();
        let mut keys = image_embedding;
        for layer in &self.layers {
            (queries, keys) =
                layer.forward(queries, keys, point_embedding.clone(), image_pe.clone());
        }
        let q = queries.clone() + point_embedding;
        let k = keys.clone() + image_pe;
        let queries = queries + self.final_attn_token_to_image.forward(q, k, keys.clone());
        (self.norm_final_attn.forward(queries), keys)
    }
}
