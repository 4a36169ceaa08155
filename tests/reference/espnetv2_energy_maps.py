#!/usr/bin/env python3
"""Energy score maps of the Cityscapes ESPNetv2 (s = 2.0, 1024x512) on a folder of frames.

Purpose: a PyTorch reference for an off-the-shelf, small semantic-segmentation network used as
an anomaly scorer without any outlier training (a baseline next to s2m's own scorers, and the
values a Rust port of ESPNetv2 has to reproduce). For every image it writes `<stem>.npy`, a
float32 [H, W] array (np.save) of the energy score at the image's own size.

The network is NOT vendored here. It is imported from a checkout of `sacmehta/EdgeNets`
(commit 2b232d3, MIT licence, Copyright (c) Sachin Mehta) given with `--edgenets`:
`model/segmentation/espnetv2.py` (`ESPNetv2Segmentation`), which imports
`model/classification/espnetv2.py` (`EESPNet`), `model/classification/espnetv2_config.py`,
`nn_layers/` and `utilities/print_utils.py`. The constructor reads an argparse-style namespace;
it is built here with `s = 2.0`, `channels = 3` (and `num_classes = 1000`, only for the ImageNet
classifier that the segmentation network deletes), `classes = 20`, `dataset = 'city'`. The
weights are the repo's `model/segmentation/model_zoo/espnetv2/espnetv2_s_2.0_city_1024x512.pth`,
a plain state dict of 526 tensors, loaded with `strict=True` (every key must match).

Preprocessing (as EdgeNets' `test_segmentation.py` `data_transform`): the image is read as RGB
(PIL `convert('RGB')`), resized to 1024 x 512 (width x height) with PIL `Image.BILINEAR` on the
uint8 image (the aspect ratio is not kept), scaled to [0, 1], then normalised with the ImageNet
mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). The network returns 20 logits per pixel
at 512 x 1024 (it ends with its own bilinear, align_corners=True upsampling to the input size):
the 19 Cityscapes train ids (road ... bicycle) and a last "background" channel.

Score (higher = more anomalous): energy `E = -logsumexp(l[0:19])` over the first 19 class logits
(the background channel is left out), computed in float32 at 512 x 1024, then resized to the
frame's H x W with `torch.nn.functional.interpolate(mode='bilinear', align_corners=False)`
(half-pixel centres, the inverse geometry of the PIL resize; no antialiasing).

Deterministic: CPU only, eval mode, `torch.no_grad()`, one torch thread
(`torch.set_num_threads(1)`, to leave the CPU to other jobs); a rerun gives byte-identical
files. About 0.9 s per 480x360 frame (233 CamVid-OOD frames in 3.5 min).

Usage:
  python tests/reference/espnetv2_energy_maps.py --edgenets /tmp/edgenets \\
      --weights espnetv2_s_2.0_city_1024x512.pth --images DIR [--frame-list FILE] --out DIR

`--frame-list`: a text file of image file names in --images, one a line; blank lines and lines
starting with `#` are skipped (the layout of `crates/s2m-eval/splits/*.txt`). Without it, every
.png / .jpg / .jpeg in --images is scored, sorted by name.

Needs torch, numpy and pillow (no torchvision).
"""

import argparse
import os
import sys
import time
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

INPUT_WIDTH, INPUT_HEIGHT = 1024, 512
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
NUM_OUTPUTS = 20  # 19 Cityscapes train ids + background
NUM_CLASSES_SCORED = 19
EXPECTED_KEYS = 526
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def build_model(edgenets_dir, weights_path):
    """ESPNetv2Segmentation from the EdgeNets checkout, with the Cityscapes weights loaded."""
    edgenets_dir = os.path.abspath(edgenets_dir)
    if not os.path.isfile(os.path.join(edgenets_dir, "model", "segmentation", "espnetv2.py")):
        sys.exit(f"{edgenets_dir} is not an EdgeNets checkout (no model/segmentation/espnetv2.py)")
    sys.path.insert(0, edgenets_dir)
    from model.segmentation.espnetv2 import ESPNetv2Segmentation  # noqa: E402 (EdgeNets code)

    args = SimpleNamespace(s=2.0, channels=3, num_classes=1000, classes=NUM_OUTPUTS,
                           dataset="city", weights=None)
    model = ESPNetv2Segmentation(args, classes=NUM_OUTPUTS, dataset="city")

    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or any(not torch.is_tensor(v) for v in state.values()):
        sys.exit(f"{weights_path}: expected a plain state dict of tensors")
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        sys.exit(f"state dict mismatch: missing {result.missing_keys}, "
                 f"unexpected {result.unexpected_keys}")
    print(f"loaded {len(state)}/{len(model.state_dict())} tensors from {weights_path}"
          + ("" if len(state) == EXPECTED_KEYS else f" (expected {EXPECTED_KEYS})"))
    model.eval()
    return model


def preprocess(image):
    """PIL RGB image -> (1, 3, 512, 1024) float32, as EdgeNets' data_transform."""
    resized = image.resize((INPUT_WIDTH, INPUT_HEIGHT), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(resized, dtype=np.uint8).copy())
    x = x.permute(2, 0, 1).to(torch.float32).div(255.0)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def energy_map(model, image):
    """float32 numpy [H, W] energy score of one PIL RGB image at its own size."""
    width, height = image.size
    logits = model(preprocess(image))
    if logits.shape != (1, NUM_OUTPUTS, INPUT_HEIGHT, INPUT_WIDTH):
        sys.exit(f"unexpected logits shape {tuple(logits.shape)}")
    energy = -torch.logsumexp(logits[:, :NUM_CLASSES_SCORED], dim=1, keepdim=True)
    energy = F.interpolate(energy, size=(height, width), mode="bilinear", align_corners=False)
    return energy[0, 0].numpy().astype(np.float32)


def list_images(images_dir, frame_list):
    if frame_list is None:
        names = sorted(n for n in os.listdir(images_dir)
                       if n.lower().endswith(IMAGE_EXTENSIONS))
    else:
        with open(frame_list) as f:
            names = [line.strip() for line in f]
        names = [n for n in names if n and not n.startswith("#")]
    paths = [os.path.join(images_dir, n) for n in names]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        sys.exit(f"{len(missing)} listed images do not exist, e.g. {missing[0]}")
    if not paths:
        sys.exit(f"no images in {images_dir}")
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edgenets", required=True, help="path to a sacmehta/EdgeNets checkout")
    parser.add_argument("--weights", required=True, help="espnetv2_s_2.0_city_1024x512.pth")
    parser.add_argument("--images", required=True, help="folder of frames")
    parser.add_argument("--frame-list", help="file names to score (one a line, # comments)")
    parser.add_argument("--out", required=True, help="folder for <stem>.npy maps")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    model = build_model(args.edgenets, args.weights)
    paths = list_images(args.images, args.frame_list)
    os.makedirs(args.out, exist_ok=True)

    start = time.time()
    with torch.no_grad():
        for i, path in enumerate(paths):
            with Image.open(path) as img:
                image = img.convert("RGB")
            energy = energy_map(model, image)
            stem = os.path.splitext(os.path.basename(path))[0]
            np.save(os.path.join(args.out, stem + ".npy"), energy)
            if (i + 1) % 25 == 0 or i + 1 == len(paths):
                print(f"{i + 1}/{len(paths)} frames, {time.time() - start:.1f} s", flush=True)
    print(f"wrote {len(paths)} maps to {args.out}")


if __name__ == "__main__":
    main()
