#!/usr/bin/env python3
"""Full-size SAM ViT-B parity reference with weights from a formula.

No ViT-B checkpoint can be fetched here and a random one would be 375 MB, so both
sides generate the same weights from a formula instead: for each tensor of the official
ViT-B state dict (official name, PyTorch layout), element k (row-major) is

    u(k)  = 2 * splitmix64(k + fnv1a64(name) * 0x9E3779B97F4A7C15) / 2**64 - 1   (53-bit)
    value = 0.02 * u                    for biases
          = 1 + 0.1 * u                 for other 1-D tensors (LayerNorm weights)
          = sqrt(3 / fan_in) * u        otherwise, fan_in = prod(shape[1:])

computed in float64 and rounded to float32. The Rust test
(crates/s2m-core/tests/sam_vit_b_formula.rs) implements the same formula.

Runs the official `segment_anything` ViT-B (float64) on tests/fixtures/road_1024x576.png
and writes tests/fixtures/:
  sam_vit_b_shapes.json            official tensor names and shapes, in state-dict order
  sam_vit_b_formula.safetensors    image_embedding_every_4th_channel (1,64,64,64),
                                   box (1,4), box_low_res_logits (1,1,256,256), box_iou (1,1)

Usage: python tests/reference/sam_vit_b_formula.py [--out tests/fixtures]
"""

import argparse
import json
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from sam_reference import assert_finite, f32, import_official_sam

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(name: str) -> int:
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def uniform(name: str, n: int) -> np.ndarray:
    """u(k) in [-1, 1) for k = 0..n-1 (splitmix64 finaliser)."""
    x = np.arange(n, dtype=np.uint64) + np.uint64((fnv1a64(name) * GOLDEN) & MASK64)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53 * 2.0 - 1.0


def formula(name: str, shape) -> np.ndarray:
    n = int(np.prod(shape))
    u = uniform(name, n)
    if name.endswith(".bias"):
        v = 0.02 * u
    elif len(shape) == 1:
        v = 1.0 + 0.1 * u
    else:
        v = np.sqrt(3.0 / float(np.prod(shape[1:]))) * u
    return v.astype(np.float32).reshape(shape)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "fixtures"))
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)

    segment_anything, _ = import_official_sam()
    from segment_anything import sam_model_registry

    sam = sam_model_registry["vit_b"]()
    state = sam.state_dict()
    shapes = {name: list(t.shape) for name, t in state.items()}
    sam.load_state_dict({name: torch.from_numpy(formula(name, s)) for name, s in shapes.items()})
    sam = sam.double().eval()

    img = np.array(Image.open(os.path.join(args.out, "road_1024x576.png")).convert("RGB"))
    box = torch.tensor([[636.0, 394.0, 774.0, 494.0]], dtype=torch.float64)
    with torch.no_grad():
        x = sam.preprocess(torch.as_tensor(img).permute(2, 0, 1)[None].double())
        emb = sam.image_encoder(x)
        sparse, dense = sam.prompt_encoder(points=None, boxes=box, masks=None)
        low_res, iou = sam.mask_decoder(
            image_embeddings=emb,
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
    assert_finite("vit-b", emb, low_res, iou)

    with open(os.path.join(args.out, "sam_vit_b_shapes.json"), "w") as f:
        json.dump([[name, s] for name, s in shapes.items()], f)
    tensors = {
        "image_embedding_every_4th_channel": f32(emb[:, ::4]),
        "box": f32(box),
        "box_low_res_logits": f32(low_res),
        "box_iou": f32(iou),
    }
    save_file(tensors, os.path.join(args.out, "sam_vit_b_formula.safetensors"), metadata={"info": "official segment_anything ViT-B, formula weights, float64"})
    print({k: tuple(v.shape) for k, v in tensors.items()}, "embedding std", emb.std().item(), "iou", iou.item())


if __name__ == "__main__":
    main()
