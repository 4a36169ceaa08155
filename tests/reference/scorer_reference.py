#!/usr/bin/env python3
"""Independent PyTorch reference for the anomaly scorer: RPL's and PEBAL's DeepWV3Plus
(DeepLabv3+ on a WideResNet38, `WiderResNetA2` with dilation) and their score functions.

The network is rewritten here from the public reference code, not imported:

  yyliu01/RPL rpl.code/model/wide_resnet_base.py  IdentityResidualBlock, WiderResNetA2(dilation=True)
  yyliu01/RPL rpl.code/model/wide_network.py      _AtrousSpatialPyramidPoolingModule, DeepWV3Plus,
                                                  ResidualAnomalyBlock (RPL only)
  yyliu01/RPL rpl.code/model/network.py           Network (`branch1.` prefix)
  yyliu01/RPL rpl.code/valid.py                   compute_anomaly_score (energy / entropy, blur)
  tianyu0207/PEBAL code/model/wide_network.py     DeepWV3Plus without the residual block,
                                                  compute_anomaly_score (first 19 logits)
  tianyu0207/PEBAL base_model/mynn.py             Upsample = bilinear, align_corners=True

The modules below produce the reference `state_dict()` key names (e.g.
`branch1.mod2.block1.convs.bn2.0.running_var`, `branch1.aspp.features.1.0.weight`,
`branch1.final.6.weight`, `branch1.residual_block.atten_aspp_final.weight`). Dropout layers
(mod6, mod7) are left out: they hold no parameters and are identities in eval mode.

RPL scores the second output of its network, `final(dec0 + residual_block(x))`; PEBAL (and the
plain DeepWV3Plus) scores `final(dec0)`. Both upsample the logits to the input size
(bilinear, align_corners=True). Score functions over the first 19 logits, higher = more
anomalous: energy `-T logsumexp(l / T)`, entropy `-sum p log p / log 19`, max-logit `-max l`,
max-softmax `1 - max p`. The blur is torchvision's `GaussianBlur(7, sigma=1)` (reflect padding).

Weights are random (seeded), generated in float32 and calibrated on the fixture input: every
BatchNorm gets running statistics close to the batch statistics of its input (so activations
stay O(1) through the 17 residual blocks) but perturbed, with non-trivial affine parameters;
the bias-free convolutions without a BatchNorm after them get one scalar factor each so their
output has std 1 (the logits: std 3). Everything then runs in float64 on those float32 weights;
outputs are saved as float32.

Writes to --out (normally tests/fixtures/):
  scorer_rpl_tiny.pth     {"model": state dict with `branch1.` keys}   (RPL's test.py layout)
  scorer_pebal_tiny.pth   bare DataParallel state dict, `module.branch1.` keys
  scorer_parity.safetensors   inputs, logits, score maps (see tests/reference/README.md)
  scorer_rpl_shapes.json / scorer_pebal_shapes.json   [name, shape] of the full-size networks

Usage: python tests/reference/scorer_reference.py [--out tests/fixtures]
"""

import argparse
import json
import math
import os
from collections import OrderedDict

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from torchvision.transforms.functional import gaussian_blur

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SCORED_CLASSES = 19

# Full-size architecture (shapes only).
FULL = dict(stem=64, channels=[(128, 128), (256, 256), (512, 512), (512, 1024), (512, 1024, 2048),
                               (1024, 2048, 4096)],
            structure=[3, 3, 6, 3, 1, 1], aspp=256, rates=(12, 24, 36), fine=48, decoder=256, head=256,
            residual=256)
# Reduced widths (same block structure); ASPP rates reduced so that dilated taps land inside the
# 7x9 stride-8 feature map of the 50x66 input.
TINY = dict(stem=8, channels=[(8, 8), (8, 16), (16, 16), (12, 24), (8, 16, 32), (16, 24, 40)],
            structure=[3, 3, 6, 3, 1, 1], aspp=8, rates=(2, 4, 6), fine=6, decoder=12, head=10, residual=14)
H, W = 50, 66


def upsample(x, size):
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


def bn_relu(channels):
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=False))


class IdentityResidualBlock(nn.Module):
    """Pre-activation block: bn1 (BN+ReLU) -> convs; projection from bn1's output when the
    stride or the width changes, identity shortcut otherwise."""

    def __init__(self, cin, channels, stride=1, dilation=1):
        super().__init__()
        self.bn1 = bn_relu(cin)
        if len(channels) == 2:
            layers = [("conv1", nn.Conv2d(cin, channels[0], 3, stride=stride, padding=dilation,
                                          dilation=dilation, bias=False)),
                      ("bn2", bn_relu(channels[0])),
                      ("conv2", nn.Conv2d(channels[0], channels[1], 3, padding=dilation, dilation=dilation,
                                          bias=False))]
        else:
            layers = [("conv1", nn.Conv2d(cin, channels[0], 1, stride=stride, bias=False)),
                      ("bn2", bn_relu(channels[0])),
                      ("conv2", nn.Conv2d(channels[0], channels[1], 3, padding=dilation, dilation=dilation,
                                          bias=False)),
                      ("bn3", bn_relu(channels[1])),
                      ("conv3", nn.Conv2d(channels[1], channels[2], 1, bias=False))]
        self.convs = nn.Sequential(OrderedDict(layers))
        if stride != 1 or cin != channels[-1]:
            self.proj_conv = nn.Conv2d(cin, channels[-1], 1, stride=stride, bias=False)

    def forward(self, x):
        bn1 = self.bn1(x)
        shortcut = self.proj_conv(bn1) if hasattr(self, "proj_conv") else x
        return self.convs(bn1) + shortcut


class ASPP(nn.Module):
    """_AtrousSpatialPyramidPoolingModule: image pooling branch first, then 1x1 and three
    dilated 3x3 branches, concatenated (5 x reduction channels)."""

    def __init__(self, cin, reduction, rates):
        super().__init__()
        feats = [nn.Sequential(nn.Conv2d(cin, reduction, 1, bias=False), *bn_relu(reduction))]
        for r in rates:
            feats.append(nn.Sequential(nn.Conv2d(cin, reduction, 3, dilation=r, padding=r, bias=False),
                                       *bn_relu(reduction)))
        self.features = nn.ModuleList(feats)
        self.img_conv = nn.Sequential(nn.Conv2d(cin, reduction, 1, bias=False), *bn_relu(reduction))

    def forward(self, x):
        img = self.img_conv(F.adaptive_avg_pool2d(x, 1))
        out = [upsample(img, x.shape[2:])] + [f(x) for f in self.features]
        return torch.cat(out, 1)


class ResidualAnomalyBlock(nn.Module):
    def __init__(self, cin, aspp, rates, residual, dec_channels):
        super().__init__()
        self.atten_aspp = ASPP(cin, aspp, rates)
        self.bot_atten_aspp = nn.Conv2d(5 * aspp, residual, 1, bias=False)
        self.atten_aspp_final = nn.Conv2d(residual, dec_channels, 1, bias=False)

    def forward(self, x, size):
        x = self.bot_atten_aspp(self.atten_aspp(x))
        return self.atten_aspp_final(upsample(x, size))


class DeepWV3Plus(nn.Module):
    def __init__(self, cfg, num_classes, residual_block):
        super().__init__()
        self.mod1 = nn.Sequential(OrderedDict([("conv1", nn.Conv2d(3, cfg["stem"], 3, padding=1, bias=False))]))
        cin = cfg["stem"]
        for mod_id, (num, channels) in enumerate(zip(cfg["structure"], cfg["channels"])):
            blocks = []
            for block_id in range(num):
                dil = 2 if mod_id == 3 else (4 if mod_id > 3 else 1)
                stride = 2 if (block_id == 0 and mod_id == 2) else 1
                blocks.append((f"block{block_id + 1}", IdentityResidualBlock(cin, channels, stride, dil)))
                cin = channels[-1]
            self.add_module(f"mod{mod_id + 2}", nn.Sequential(OrderedDict(blocks)))
        m2_channels = cfg["channels"][0][-1]
        dec = cfg["fine"] + cfg["decoder"]
        if residual_block:
            self.residual_block = ResidualAnomalyBlock(cin, cfg["aspp"], cfg["rates"], cfg["residual"], dec)
        self.aspp = ASPP(cin, cfg["aspp"], cfg["rates"])
        self.bot_fine = nn.Conv2d(m2_channels, cfg["fine"], 1, bias=False)
        self.bot_aspp = nn.Conv2d(5 * cfg["aspp"], cfg["decoder"], 1, bias=False)
        self.final = nn.Sequential(
            nn.Conv2d(dec, cfg["head"], 3, padding=1, bias=False), nn.BatchNorm2d(cfg["head"]), nn.ReLU(),
            nn.Conv2d(cfg["head"], cfg["head"], 3, padding=1, bias=False), nn.BatchNorm2d(cfg["head"]), nn.ReLU(),
            nn.Conv2d(cfg["head"], num_classes, 1, bias=False))

    def forward(self, inp):
        x = self.mod1(inp)
        m2 = self.mod2(F.max_pool2d(x, 3, stride=2, padding=1))
        x = self.mod3(F.max_pool2d(m2, 3, stride=2, padding=1))
        x = self.mod7(self.mod6(self.mod5(self.mod4(x))))
        dec_up = upsample(self.bot_aspp(self.aspp(x)), m2.shape[2:])
        dec0 = torch.cat([self.bot_fine(m2), dec_up], 1)
        if hasattr(self, "residual_block"):
            dec0 = dec0 + self.residual_block(x, m2.shape[2:])
        return upsample(self.final(dec0), inp.shape[2:])


class Network(nn.Module):
    def __init__(self, cfg, num_classes, residual_block):
        super().__init__()
        self.branch1 = DeepWV3Plus(cfg, num_classes, residual_block)

    def forward(self, x):
        return self.branch1(x)


# ------------------------------------------------------------------------------------------
# scores
# ------------------------------------------------------------------------------------------


def scores(logits):
    l19 = logits[:, :SCORED_CLASSES]
    log_p = torch.log_softmax(l19, dim=1)
    p = log_p.exp()
    return {
        "energy": -torch.logsumexp(l19, dim=1),
        "energy_t2": -2.0 * torch.logsumexp(l19 / 2.0, dim=1),
        "entropy": -(p * log_p).sum(1) / math.log(SCORED_CLASSES),
        "max_logit": -l19.amax(dim=1),
        "max_softmax": 1.0 - p.amax(dim=1),
    }


def blur(score):
    """torchvision GaussianBlur(7, sigma=1) on each [H, W] map (reflect padding)."""
    return gaussian_blur(score.unsqueeze(1), [7, 7], [1.0, 1.0]).squeeze(1)


# ------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------


def make_images(batch, seed):
    """Smooth random colour fields with a few sharp rectangles, uint8 HWC."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(batch, 3, 5, 7, generator=g)
    img = F.interpolate(low, size=(H, W), mode="bicubic", align_corners=False)
    for b in range(batch):
        for _ in range(3):
            y0, x0 = torch.randint(0, H - 10, (2,), generator=g).tolist()
            colour = torch.rand(3, 1, 1, generator=g)
            img[b, :, y0:y0 + 9, x0:x0 + 13] = colour
    img = img + 0.05 * torch.randn(img.shape, generator=g)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def normalise(images_u8):
    x = images_u8.permute(0, 3, 1, 2).double() / 255.0
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
    return (x - mean) / std


def build_model(num_classes, residual_block, x, seed):
    torch.manual_seed(seed)
    model = Network(TINY, num_classes, residual_block).eval()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)

    def calibrate_bn(module, inputs):
        with torch.no_grad():
            t = inputs[0]
            mean = t.mean(dim=(0, 2, 3))
            var = t.var(dim=(0, 2, 3), unbiased=False).clamp_min(1e-2)
            module.running_mean.copy_(mean + 0.2 * var.sqrt() * torch.randn_like(mean))
            module.running_var.copy_(var * torch.empty_like(var).uniform_(0.7, 1.3))
            module.num_batches_tracked.fill_(1000)

    # Bias-free convolutions that no BatchNorm follows: scale to a target output std.
    b1 = model.branch1
    targets = {b1.bot_fine: 1.0, b1.bot_aspp: 1.0, b1.final[6]: 3.0}
    if residual_block:
        targets[b1.residual_block.bot_atten_aspp] = 1.0
        targets[b1.residual_block.atten_aspp_final] = 1.0

    def scale_conv(module, inputs, output):
        with torch.no_grad():
            s = targets[module] / output.std().item()
            module.weight.mul_(s)
            return output * s

    handles = [m.register_forward_pre_hook(calibrate_bn) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    handles += [m.register_forward_hook(scale_conv) for m in targets]
    with torch.no_grad():
        model(x.float())
    for h in handles:
        h.remove()
    return model


def reference(model, x):
    model = model.double()
    with torch.no_grad():
        logits = model(x)
    return logits


def f32(t):
    return t.float().contiguous()


def fixtures(out_dir):
    tensors = {}
    rpl_images = make_images(2, seed=7)
    pebal_images = make_images(1, seed=8)
    rpl_x, pebal_x = normalise(rpl_images), normalise(pebal_images)

    rpl = build_model(SCORED_CLASSES, True, rpl_x, seed=3)
    torch.save({"model": {k: v.clone() for k, v in rpl.state_dict().items()}},
               os.path.join(out_dir, "scorer_rpl_tiny.pth"))
    pebal = build_model(SCORED_CLASSES + 1, False, pebal_x, seed=4)
    torch.save({f"module.{k}": v.clone() for k, v in pebal.state_dict().items()},
               os.path.join(out_dir, "scorer_pebal_tiny.pth"))

    rpl_logits = reference(rpl, rpl_x)
    tensors["rpl.image"] = rpl_images
    tensors["rpl.input"] = f32(rpl_x)
    tensors["rpl.logits"] = f32(rpl_logits)
    for name, s in scores(rpl_logits).items():
        tensors[f"rpl.{name}"] = f32(s)
        tensors[f"rpl.{name}_blurred"] = f32(blur(s))
    pebal_logits = reference(pebal, pebal_x)
    tensors["pebal.image"] = pebal_images
    tensors["pebal.input"] = f32(pebal_x)
    tensors["pebal.logits"] = f32(pebal_logits)
    tensors["pebal.energy_blurred"] = f32(blur(scores(pebal_logits)["energy"]))

    for name, model, x, logits in (("rpl", rpl, rpl_x, rpl_logits), ("pebal", pebal, pebal_x, pebal_logits)):
        params = sum(v.numel() for k, v in model.state_dict().items() if "num_batches" not in k)
        l32 = model.float()(x.float()).double()
        err = ((l32 - logits).norm() / logits.norm()).item()
        print(f"[{name}] params {params}, logits {tuple(logits.shape)} std {logits.std().item():.2f}, "
              f"float32 relative L2 error {err:.1e}")
    s = scores(rpl_logits)
    print("[rpl] entropy range {:.3f}..{:.3f}, max_softmax range {:.3f}..{:.3f}".format(
        s["entropy"].min().item(), s["entropy"].max().item(),
        s["max_softmax"].min().item(), s["max_softmax"].max().item()))
    save_file(tensors, os.path.join(out_dir, "scorer_parity.safetensors"),
              metadata={"info": "RPL / PEBAL DeepWV3Plus reference (float64, saved float32)"})


def full_shapes(out_dir):
    for name, classes, residual in (("rpl", SCORED_CLASSES, True), ("pebal", SCORED_CLASSES + 1, False)):
        with torch.device("meta"):
            model = Network(FULL, classes, residual)
        shapes = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        with open(os.path.join(out_dir, f"scorer_{name}_shapes.json"), "w") as f:
            json.dump(shapes, f)
        values = sum(math.prod(s) for k, s in shapes if "num_batches" not in k)
        print(f"[full {name}] {len(shapes)} tensors, {values} values")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)  # deterministic float64 reductions
    fixtures(args.out)
    full_shapes(args.out)


if __name__ == "__main__":
    main()
