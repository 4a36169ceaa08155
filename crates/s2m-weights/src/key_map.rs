//! Tensor names of the official Segment Anything and MobileSAM checkpoints,
//! and of detectron2 Faster R-CNN checkpoints (the S2M prompt generator),
//! mapped to the paths of our Burn modules.
//!
//! Our module fields mirror the PyTorch state-dict names (see
//! `segment_anything/modeling/*.py`, MobileSAM's `tiny_vit_sam.py` and
//! detectron2's `modeling/`), so most names pass through unchanged. Only
//! `nn.Sequential` children, which PyTorch names by index, get the field
//! names our structs use, and detectron2's per-level FPN convolutions
//! (`fpn_lateral2..5`) become list entries (`fpn_lateral.0..3`). Tensors the
//! inference path never reads (TinyViT's ImageNet classifier, BatchNorm's
//! step counter, detectron2's pixel statistics and anchor buffers of older
//! versions) are dropped.

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

/// detectron2 FPN convolutions named by level, and our list fields.
const FPN_LEVEL_PREFIXES: &[(&str, &str)] = &[
    ("backbone.fpn_lateral", "backbone.fpn_lateral."),
    ("backbone.fpn_output", "backbone.fpn_output."),
];

/// Official names that inference never reads.
fn is_unused(name: &str) -> bool {
    name.ends_with(".num_batches_tracked")
        || name.starts_with("image_encoder.head.")
        || name.starts_with("image_encoder.norm_head.")
        || name == "pixel_mean"
        || name == "pixel_std"
        || name.starts_with("proposal_generator.anchor_generator.")
}

/// `backbone.fpn_lateral3.weight` -> `backbone.fpn_lateral.1.weight`.
fn fpn_level_to_index(name: &str) -> Option<String> {
    FPN_LEVEL_PREFIXES.iter().find_map(|(official, ours)| {
        let rest = name.strip_prefix(official)?;
        let (level, tail) = rest.split_once('.')?;
        let index = level.parse::<usize>().ok()?.checked_sub(2)?;
        Some(format!("{ours}{index}.{tail}"))
    })
}

/// Our name for the official tensor `name`, or `None` for a tensor we drop.
pub fn official_to_ours(name: &str) -> Option<String> {
    if is_unused(name) {
        return None;
    }
    if let Some(ours) = fpn_level_to_index(name) {
        return Some(ours);
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
pub enum ModelVariant {
    MobileSam,
    VitB,
    VitL,
    VitH,
    /// The prompt generator (Faster R-CNN + FPN) on a ResNet of this depth.
    Generator(usize),
}

impl ModelVariant {
    pub fn model_name(self) -> String {
        match self {
            Self::MobileSam => "mobile_sam".into(),
            Self::VitB => "sam_vit_b".into(),
            Self::VitL => "sam_vit_l".into(),
            Self::VitH => "sam_vit_h".into(),
            Self::Generator(depth) => format!("generator_r{depth}_fpn"),
        }
    }

    /// Recognises the variant from the official tensor names and shapes:
    /// TinyViT has `image_encoder.layers.*`, a ViT's width is the last
    /// dimension of `image_encoder.pos_embed`; a detectron2 ResNet's depth
    /// follows from its block type and the number of res4 blocks.
    pub fn detect<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [usize])>) -> Option<Self> {
        let mut res4_blocks = 0;
        let mut bottleneck = false;
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
            if let Some(rest) = name.strip_prefix("backbone.bottom_up.res4.") {
                let block = rest.split('.').next().and_then(|i| i.parse::<usize>().ok());
                res4_blocks = res4_blocks.max(block.map_or(0, |i| i + 1));
            }
            bottleneck |= name.starts_with("backbone.bottom_up.res2.0.conv3.");
        }
        match (res4_blocks, bottleneck) {
            (2, false) => Some(Self::Generator(18)),
            (6, false) => Some(Self::Generator(34)),
            (6, true) => Some(Self::Generator(50)),
            (23, true) => Some(Self::Generator(101)),
            _ => None,
        }
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
        assert_eq!(ModelVariant::detect(vit_b), Some(ModelVariant::VitB));
        let tiny: [(&str, &[usize]); 1] = [(
            "image_encoder.layers.0.blocks.0.conv1.c.weight",
            &[256, 64, 1, 1],
        )];
        assert_eq!(ModelVariant::detect(tiny), Some(ModelVariant::MobileSam));
        let other: [(&str, &[usize]); 1] = [("backbone.conv1.weight", &[64, 3, 7, 7])];
        assert_eq!(ModelVariant::detect(other), None);
        let r50: Vec<(String, Vec<usize>)> = (0..6)
            .flat_map(|i| {
                [
                    (
                        format!("backbone.bottom_up.res4.{i}.conv1.weight"),
                        vec![256, 1024, 1, 1],
                    ),
                    (
                        format!("backbone.bottom_up.res2.0.conv3.weight"),
                        vec![256, 64, 1, 1],
                    ),
                ]
            })
            .collect();
        let r50 = r50.iter().map(|(n, s)| (n.as_str(), s.as_slice()));
        assert_eq!(ModelVariant::detect(r50), Some(ModelVariant::Generator(50)));
        assert_eq!(
            ModelVariant::Generator(50).model_name(),
            "generator_r50_fpn"
        );
    }

    #[test]
    fn detectron2_names_map_to_our_fields() {
        assert_eq!(
            official_to_ours("backbone.fpn_lateral2.weight").unwrap(),
            "backbone.fpn_lateral.0.weight"
        );
        assert_eq!(
            official_to_ours("backbone.fpn_output5.bias").unwrap(),
            "backbone.fpn_output.3.bias"
        );
        let name = "backbone.bottom_up.res3.0.shortcut.norm.running_var";
        assert_eq!(official_to_ours(name).unwrap(), name);
        assert!(official_to_ours("pixel_mean").is_none());
        assert!(official_to_ours("proposal_generator.anchor_generator.cell_anchors.0").is_none());
    }
}
