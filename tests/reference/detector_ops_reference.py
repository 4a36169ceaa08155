#!/usr/bin/env python3
"""torchvision reference for the prompt generator's box operations.

Writes tests/fixtures/detector_ops.safetensors with random clustered boxes (so many overlap),
scores, classes, the indices kept by torchvision.ops.nms (IoU 0.7, the RPN's) and
torchvision.ops.batched_nms (IoU 0.5, the test-time per-class NMS), and box deltas decoded by
torchvision's BoxCoder with weights (10, 10, 5, 5) and its default clamp ln(1000/16) (the same
semantics as detectron2's Box2BoxTransform).

Usage: python tests/reference/detector_ops_reference.py [--out tests/fixtures]
"""

import argparse
import math
import os

import torch
from safetensors.torch import save_file
from torchvision.ops import batched_nms, nms
from torchvision.models.detection._utils import BoxCoder


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "fixtures"))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(7)

    n = 400
    centres = torch.rand(12, 2, generator=g) * 800
    idx = torch.randint(0, 12, (n,), generator=g)
    ctr = centres[idx] + torch.randn(n, 2, generator=g) * 15
    wh = torch.rand(n, 2, generator=g) * 120 + 4
    boxes = torch.cat([ctr - wh / 2, ctr + wh / 2], dim=1)
    scores = torch.rand(n, generator=g)
    classes = torch.randint(0, 3, (n,), generator=g)

    keep_rpn = nms(boxes, scores, 0.7)
    keep_test = batched_nms(boxes, scores, classes, 0.5)

    deltas = torch.randn(n, 4, generator=g) * 2
    deltas[:5, 2:] = 20.0  # beyond the clamp
    coder = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0), bbox_xform_clip=math.log(1000.0 / 16))
    decoded = coder.decode_single(deltas.double(), boxes.double()).float()

    tensors = {
        "boxes": boxes.contiguous(),
        "scores": scores.contiguous(),
        "classes": classes.to(torch.int64).contiguous(),
        "keep_nms_0_7": keep_rpn.to(torch.int64).contiguous(),
        "keep_batched_nms_0_5": keep_test.to(torch.int64).contiguous(),
        "deltas": deltas.contiguous(),
        "decoded": decoded.contiguous(),
    }
    save_file(tensors, os.path.join(args.out, "detector_ops.safetensors"), metadata={"info": "torchvision nms/batched_nms/BoxCoder"})
    print({k: tuple(v.shape) for k, v in tensors.items()})


if __name__ == "__main__":
    main()
