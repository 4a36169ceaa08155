//! Tensor names of the official Segment Anything and MobileSAM checkpoints,
//! of detectron2 Faster R-CNN checkpoints (the S2M prompt generator) and of
//! RPL / PEBAL DeepWV3Plus checkpoints (the anomaly scorer), mapped to the
//! paths of our Burn modules.
//!
//! Our module fields mirror the PyTorch state-dict names (see
//! `segment_anything/modeling/*.py`, MobileSAM's `tiny_vit_sam.py` and
//! detectron2's `modeling/`), so most names pass through unchanged. Only
//! `nn.Sequential` children, which PyTorch names by index, get the field
//! names our structs use, and detectron2's per-level FPN convolutions
//! (`fpn_lateral2..5`) become list entries (`fpn_lateral.0..3`). DeepWV3Plus
//! names lose their wrappers (`module.` from `nn.DataParallel`, `branch1.`
//! from RPL's and PEBAL's `Network`), see [`scorer_to_ours`]. Tensors the
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

/// The top-level modules of RPL's and PEBAL's DeepWV3Plus.
const SCORER_MODULES: &[&str] = &[
    "mod1",
    "mod2",
    "mod3",
    "mod4",
    "mod5",
    "mod6",
    "mod7",
    "aspp",
    "bot_fine",
    "bot_aspp",
    "final",
    "residual_block",
];

/// A DeepWV3Plus name without its `module.` / `branch1.` wrappers, or
/// `None` for a name of another model.
fn scorer_name(name: &str) -> Option<&str> {
    let name = name.strip_prefix("module.").unwrap_or(name);
    let name = name.strip_prefix("branch1.").unwrap_or(name);
    let first = name.split('.').next()?;
    SCORER_MODULES.contains(&first).then_some(name)
}

/// `final` (a Rust keyword) is our `head`; its `nn.Sequential` indices
/// (conv, BN, ReLU, conv, BN, ReLU, conv) become field names.
const HEAD_LAYERS: &[(&str, &str)] = &[
    ("0", "conv1"),
    ("1", "bn1"),
    ("3", "conv2"),
    ("4", "bn2"),
    ("6", "conv3"),
];

/// Our name for a DeepWV3Plus tensor (`name` without wrappers):
/// `mod2.block1.convs.bn2.0.weight` -> `trunk.mod2.0.bn2.weight` (blocks
/// numbered from 0, the `convs` sequence flattened, BN+ReLU sequences
/// reduced to their BN), `aspp.features.1.0.weight` ->
/// `aspp.features.1.conv.weight` (`0`/`1` of a conv-BN-ReLU sequence are
/// `conv`/`bn`), `final.6.weight` -> `head.conv3.weight`.
fn scorer_to_ours(name: &str) -> Option<String> {
    let mut parts: Vec<String> = name.split('.').map(str::to_owned).collect();
    if parts[0] == "final" {
        let (_, field) = HEAD_LAYERS
            .iter()
            .find(|(index, _)| parts.get(1) == Some(&index.to_string()))?;
        parts.splice(0..2, ["head".to_owned(), field.to_string()]);
        return Some(parts.join("."));
    }
    if parts[0].starts_with("mod") {
        if let Some(block) = parts.get(1).and_then(|b| b.strip_prefix("block")) {
            parts[1] = block.parse::<usize>().ok()?.checked_sub(1)?.to_string();
        }
        parts.retain(|p| p != "convs");
        let bn = parts
            .iter()
            .position(|p| matches!(p.as_str(), "bn1" | "bn2" | "bn3"));
        if let Some(at) = bn.filter(|at| parts.get(at + 1).map(String::as_str) == Some("0")) {
            parts.remove(at + 1);
        }
        parts.insert(0, "trunk".to_owned());
        return Some(parts.join("."));
    }
    // ASPP branches: `features.<i>.<0|1>` and `img_conv.<0|1>`.
    let sequence = parts
        .iter()
        .position(|p| p == "img_conv")
        .or_else(|| parts.iter().position(|p| p == "features").map(|at| at + 1));
    if let Some(at) = sequence {
        match parts.get(at + 1).map(String::as_str) {
            Some("0") => parts[at + 1] = "conv".to_owned(),
            Some("1") => parts[at + 1] = "bn".to_owned(),
            _ => return None,
        }
    }
    Some(parts.join("."))
}

/// Our name for the official tensor `name`, or `None` for a tensor we drop.
pub fn official_to_ours(name: &str) -> Option<String> {
    if is_unused(name) {
        return None;
    }
    if let Some(scorer) = scorer_name(name) {
        return scorer_to_ours(scorer);
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
    /// The anomaly scorer DeepWV3Plus with this many outputs, with RPL's
    /// residual anomaly block or without it (PEBAL, the plain network).
    DeepWv3Plus {
        classes: usize,
        residual_block: bool,
    },
}

impl ModelVariant {
    pub fn model_name(self) -> String {
        match self {
            Self::MobileSam => "mobile_sam".into(),
            Self::VitB => "sam_vit_b".into(),
            Self::VitL => "sam_vit_l".into(),
            Self::VitH => "sam_vit_h".into(),
            Self::Generator(depth) => format!("generator_r{depth}_fpn"),
            Self::DeepWv3Plus {
                classes: 19,
                residual_block: true,
            } => "scorer_rpl".into(),
            Self::DeepWv3Plus {
                classes: 20,
                residual_block: false,
            } => "scorer_pebal".into(),
            Self::DeepWv3Plus {
                classes,
                residual_block,
            } => format!(
                "scorer_deepwv3plus_{classes}c{}",
                if residual_block { "_residual" } else { "" }
            ),
        }
    }

    /// Recognises the variant from the official tensor names and shapes:
    /// TinyViT has `image_encoder.layers.*`, a ViT's width is the last
    /// dimension of `image_encoder.pos_embed`; a detectron2 ResNet's depth
    /// follows from its block type and the number of res4 blocks; a
    /// DeepWV3Plus has `final.6` (its classifier, whose outputs are the
    /// classes) and RPL's has `residual_block.*`.
    pub fn detect<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [usize])>) -> Option<Self> {
        let mut res4_blocks = 0;
        let mut bottleneck = false;
        let mut scorer_classes = None;
        let mut residual_block = false;
        for (name, shape) in tensors {
            if let Some(name) = scorer_name(name) {
                if name == "final.6.weight" {
                    scorer_classes = shape.first().copied();
                }
                residual_block |= name.starts_with("residual_block.");
                continue;
            }
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
        if let Some(classes) = scorer_classes {
            return Some(Self::DeepWv3Plus {
                classes,
                residual_block,
            });
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
                        "backbone.bottom_up.res2.0.conv3.weight".to_string(),
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

    #[test]
    fn deepwv3plus_names_lose_their_wrappers_and_sequence_indices() {
        for (official, ours) in [
            ("branch1.mod1.conv1.weight", "trunk.mod1.conv1.weight"),
            (
                "module.branch1.mod2.block1.bn1.0.running_var",
                "trunk.mod2.0.bn1.running_var",
            ),
            (
                "branch1.mod4.block1.proj_conv.weight",
                "trunk.mod4.0.proj_conv.weight",
            ),
            (
                "branch1.mod6.block1.convs.bn3.0.bias",
                "trunk.mod6.0.bn3.bias",
            ),
            (
                "branch1.mod7.block1.convs.conv3.weight",
                "trunk.mod7.0.conv3.weight",
            ),
            (
                "module.mod3.block3.convs.bn2.0.weight",
                "trunk.mod3.2.bn2.weight",
            ),
            (
                "branch1.aspp.features.2.0.weight",
                "aspp.features.2.conv.weight",
            ),
            (
                "branch1.aspp.features.0.1.running_mean",
                "aspp.features.0.bn.running_mean",
            ),
            ("branch1.aspp.img_conv.1.weight", "aspp.img_conv.bn.weight"),
            (
                "branch1.residual_block.atten_aspp.features.3.1.bias",
                "residual_block.atten_aspp.features.3.bn.bias",
            ),
            (
                "branch1.residual_block.atten_aspp_final.weight",
                "residual_block.atten_aspp_final.weight",
            ),
            ("branch1.bot_fine.weight", "bot_fine.weight"),
            ("branch1.final.0.weight", "head.conv1.weight"),
            ("branch1.final.4.running_var", "head.bn2.running_var"),
            ("module.branch1.final.6.weight", "head.conv3.weight"),
        ] {
            assert_eq!(official_to_ours(official).unwrap(), ours, "{official}");
        }
        assert!(official_to_ours("branch1.mod2.block1.bn1.0.num_batches_tracked").is_none());
    }

    #[test]
    fn deepwv3plus_variants() {
        let rpl: [(&str, &[usize]); 3] = [
            ("branch1.mod1.conv1.weight", &[64, 3, 3, 3]),
            (
                "branch1.residual_block.bot_atten_aspp.weight",
                &[256, 1280, 1, 1],
            ),
            ("branch1.final.6.weight", &[19, 256, 1, 1]),
        ];
        let rpl = ModelVariant::detect(rpl).unwrap();
        assert_eq!(
            rpl,
            ModelVariant::DeepWv3Plus {
                classes: 19,
                residual_block: true
            }
        );
        assert_eq!(rpl.model_name(), "scorer_rpl");
        let pebal: [(&str, &[usize]); 2] = [
            ("module.branch1.mod1.conv1.weight", &[64, 3, 3, 3]),
            ("module.branch1.final.6.weight", &[20, 256, 1, 1]),
        ];
        assert_eq!(
            ModelVariant::detect(pebal).unwrap().model_name(),
            "scorer_pebal"
        );
        let plain: [(&str, &[usize]); 1] = [("module.final.6.weight", &[19, 256, 1, 1])];
        assert_eq!(
            ModelVariant::detect(plain).unwrap().model_name(),
            "scorer_deepwv3plus_19c"
        );
    }
}
