//! Tensor names of the official Segment Anything and MobileSAM checkpoints
//! mapped to the paths of our Burn modules.
//!
//! Our module fields mirror the PyTorch state-dict names (see
//! `segment_anything/modeling/*.py` and MobileSAM's `tiny_vit_sam.py`), so
//! most names pass through unchanged. Only `nn.Sequential` children, which
//! PyTorch names by index, get the field names our structs use. Tensors the
//! inference path never reads (TinyViT's ImageNet classifier, BatchNorm's
//! step counter) are dropped.

/// `nn.Sequential` index paths and the field names that replace them.
const SEQUENTIAL_RENAMES: &[(&str, &str)] = &[
    // TinyViT patch embedding: Conv2d_BN, GELU, Conv2d_BN.
    (".patch_embed.seq.0.", ".patch_embed.conv1."),
    (".patch_embed.seq.2.", ".patch_embed.conv2."),
    // Image encoder neck (ViT and TinyViT): Conv, LayerNorm2d, Conv, LayerNorm2d.
    (".neck.0.", ".neck.conv1."),
    (".neck.1.", ".neck.norm1."),
    (".neck.2.", ".neck.conv2."),
    (".neck.3.", ".neck.norm2."),
    // Prompt encoder mask downscaling: Conv, LN2d, GELU, Conv, LN2d, GELU, Conv.
    (".mask_downscaling.0.", ".mask_downscaling.conv1."),
    (".mask_downscaling.1.", ".mask_downscaling.norm1."),
    (".mask_downscaling.3.", ".mask_downscaling.conv2."),
    (".mask_downscaling.4.", ".mask_downscaling.norm2."),
    (".mask_downscaling.6.", ".mask_downscaling.conv3."),
    // Mask decoder upscaling: ConvT, LN2d, GELU, ConvT, GELU.
    (".output_upscaling.0.", ".output_upscaling.conv1."),
    (".output_upscaling.1.", ".output_upscaling.norm."),
    (".output_upscaling.3.", ".output_upscaling.conv2."),
];

/// Official names that inference never reads.
fn is_unused(name: &str) -> bool {
    name.ends_with(".num_batches_tracked")
        || name.starts_with("image_encoder.head.")
        || name.starts_with("image_encoder.norm_head.")
}

/// Our name for the official tensor `name`, or `None` for a tensor we drop.
pub fn official_to_ours(name: &str) -> Option<String> {
    if is_unused(name) {
        return None;
    }
    let mut ours = name.to_owned();
    for (from, to) in SEQUENTIAL_RENAMES {
        if let Some(at) = ours.find(from) {
            ours.replace_range(at..at + from.len(), to);
        }
    }
    Some(ours)
}

/// The models a converted checkpoint can hold; the name is used in file
/// names and in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamVariant {
    MobileSam,
    VitB,
    VitL,
    VitH,
}

impl SamVariant {
    pub fn model_name(self) -> &'static str {
        match self {
            Self::MobileSam => "mobile_sam",
            Self::VitB => "sam_vit_b",
            Self::VitL => "sam_vit_l",
            Self::VitH => "sam_vit_h",
        }
    }

    /// Recognises the variant from the official tensor names and shapes:
    /// TinyViT has `image_encoder.layers.*`, a ViT's width is the last
    /// dimension of `image_encoder.pos_embed`.
    pub fn detect<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [usize])>) -> Option<Self> {
        for (name, shape) in tensors {
            if name.starts_with("image_encoder.layers.") {
                return Some(Self::MobileSam);
            }
            if name == "image_encoder.pos_embed" {
                return match shape.last() {
                    Some(768) => Some(Self::VitB),
                    Some(1024) => Some(Self::VitL),
                    Some(1280) => Some(Self::VitH),
                    _ => None,
                };
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_children_get_field_names() {
        assert_eq!(
            official_to_ours("image_encoder.neck.2.weight").unwrap(),
            "image_encoder.neck.conv2.weight"
        );
        assert_eq!(
            official_to_ours("image_encoder.patch_embed.seq.2.bn.running_var").unwrap(),
            "image_encoder.patch_embed.conv2.bn.running_var"
        );
        assert_eq!(
            official_to_ours("mask_decoder.output_upscaling.3.bias").unwrap(),
            "mask_decoder.output_upscaling.conv2.bias"
        );
        assert_eq!(
            official_to_ours("prompt_encoder.mask_downscaling.6.weight").unwrap(),
            "prompt_encoder.mask_downscaling.conv3.weight"
        );
    }

    #[test]
    fn module_lists_keep_their_indices() {
        let name = "image_encoder.layers.1.blocks.0.attn.qkv.weight";
        assert_eq!(official_to_ours(name).unwrap(), name);
        let name = "mask_decoder.output_hypernetworks_mlps.3.layers.2.bias";
        assert_eq!(official_to_ours(name).unwrap(), name);
    }

    #[test]
    fn unused_tensors_are_dropped() {
        assert!(official_to_ours("image_encoder.head.weight").is_none());
        assert!(official_to_ours("image_encoder.norm_head.bias").is_none());
        assert!(
            official_to_ours("image_encoder.layers.0.blocks.0.conv1.bn.num_batches_tracked")
                .is_none()
        );
    }

    #[test]
    fn variant_detection() {
        let vit_b: [(&str, &[usize]); 1] = [("image_encoder.pos_embed", &[1, 64, 64, 768])];
        assert_eq!(SamVariant::detect(vit_b), Some(SamVariant::VitB));
        let tiny: [(&str, &[usize]); 1] = [(
            "image_encoder.layers.0.blocks.0.conv1.c.weight",
            &[256, 64, 1, 1],
        )];
        assert_eq!(SamVariant::detect(tiny), Some(SamVariant::MobileSam));
        let other: [(&str, &[usize]); 1] = [("backbone.conv1.weight", &[64, 3, 7, 7])];
        assert_eq!(SamVariant::detect(other), None);
    }
}
