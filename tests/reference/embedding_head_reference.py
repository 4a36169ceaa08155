"""Parity fixture for the anomaly head on SAM's image embedding
(`s2m_core::scorer::embedding_head`).

The head rebuilt in PyTorch (float64, random weights, positive random
standard deviations) on a random 256-channel embedding of an 8 x 8 token
grid, as SAM would make for a 45 x 70 frame with a 128-pixel input: the
frame is resized to 69 x 128 (SAM's `get_preprocess_shape`) and padded at
the bottom. The score map follows SAM's `postprocess_masks` for the logits
(bilinear to the input size, crop, bilinear to the frame,
`align_corners=False`), then the sigmoid.

Writes `tests/fixtures/embedding_head_parity.safetensors` (float32):
the head's tensors under their names (`mean`, `std`, `probe.weight`, ...),
and `embedding` (1, 256, 8, 8), `logits` (1, 1, 8, 8),
`score_map` (45, 70), `frame` = [45, 70, resized_h, resized_w, 128].

    python tests/reference/embedding_head_reference.py --out tests/fixtures
"""

import argparse
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

CHANNELS, HIDDEN, GRID, INPUT = 256, 32, 8, 128
ORIGINAL = (45, 70)


class Head(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(CHANNELS))
        self.register_buffer("std", torch.ones(CHANNELS))
        self.probe = torch.nn.Conv2d(CHANNELS, 1, 1)
        self.reduce = torch.nn.Conv2d(CHANNELS, HIDDEN, 1)
        self.context1 = torch.nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1)
        self.context2 = torch.nn.Conv2d(HIDDEN, HIDDEN, 3, padding=2, dilation=2)
        self.output = torch.nn.Conv2d(HIDDEN, 1, 1)

    def forward(self, x):
        z = (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)
        c = F.relu(self.reduce(z))
        c = F.relu(self.context1(c))
        c = F.relu(self.context2(c))
        return self.probe(z) + self.output(c)


def preprocess_shape(h, w, long_side):
    scale = long_side / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="tests/fixtures")
    args = parser.parse_args()
    torch.manual_seed(21)
    head = Head().double()
    with torch.no_grad():
        head.mean.copy_(torch.randn(CHANNELS, dtype=torch.float64) * 0.3)
        head.std.copy_(torch.rand(CHANNELS, dtype=torch.float64) * 0.9 + 0.1)
        for module in (head.probe, head.reduce, head.context1, head.context2, head.output):
            module.weight.normal_(0.0, 0.2)
            module.bias.normal_(0.0, 0.2)
    embedding = torch.randn(1, CHANNELS, GRID, GRID, dtype=torch.float64) * 0.5
    with torch.no_grad():
        logits = head(embedding)
        resized = preprocess_shape(*ORIGINAL, INPUT)
        full = F.interpolate(logits, (INPUT, INPUT), mode="bilinear", align_corners=False)
        cropped = full[..., : resized[0], : resized[1]]
        score_map = torch.sigmoid(
            F.interpolate(cropped, ORIGINAL, mode="bilinear", align_corners=False)
        )[0, 0]
    tensors = {name: t.float().contiguous() for name, t in head.state_dict().items()}
    tensors.update(
        embedding=embedding.float(),
        logits=logits.float(),
        score_map=score_map.float().contiguous(),
        frame=torch.tensor([*ORIGINAL, *resized, INPUT], dtype=torch.float32),
    )
    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, "embedding_head_parity.safetensors"))


if __name__ == "__main__":
    main()
