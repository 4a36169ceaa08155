#!/usr/bin/env python3
"""Independent PyTorch reference for the prompt generator: detectron2's Faster R-CNN
(`faster_rcnn_R_50_FPN_3x` layout), rebuilt here without detectron2.

detectron2 is not installable here, so the network and its test-time pipeline are rewritten
from detectron2's source, file by file:

  modeling/meta_arch/rcnn.py          GeneralizedRCNN.preprocess_image / inference
  structures/image_list.py            ImageList.from_tensors (zero padding, size_divisibility 32)
  layers/batch_norm.py                FrozenBatchNorm2d (eps 1e-5, 4 buffers)
  modeling/backbone/resnet.py         BasicStem, BasicBlock, BottleneckBlock (stride_in_1x1)
  modeling/backbone/fpn.py            FPN (sum fuse, nearest 2x) + LastLevelMaxPool (P6)
  modeling/anchor_generator.py        DefaultAnchorGenerator (offset 0, float32 cell anchors)
  modeling/box_regression.py          Box2BoxTransform.apply_deltas (clamp ln(1000/16))
  modeling/proposal_generator/rpn.py  StandardRPNHead, RPN.forward/_decode_proposals
  modeling/proposal_generator/proposal_utils.py  find_top_rpn_proposals
  structures/boxes.py                 Boxes.clip / Boxes.nonempty / Boxes.area
  layers/nms.py                       batched_nms (= torchvision batched_nms)
  modeling/poolers.py                 ROIPooler (ROIAlignV2), assign_boxes_to_levels
  layers/roi_align.py                 ROIAlign = torchvision roi_align(aligned=True)
  modeling/roi_heads/roi_heads.py     StandardROIHeads._forward_box
  modeling/roi_heads/box_head.py      FastRCNNConvFCHead (flatten, fc1+relu, fc2+relu)
  modeling/roi_heads/fast_rcnn.py     FastRCNNOutputLayers, fast_rcnn_inference_single_image
  modeling/postprocessing.py          detector_postprocess (checked to be a no-op here)

The modules below produce `state_dict()` keys identical to detectron2's (e.g.
`backbone.bottom_up.res2.0.conv1.norm.running_var`, `roi_heads.box_predictor.cls_score.weight`).
Weights are random (seeded), generated in float32; every computation runs in float64 on those
float32 values; tensors are saved as float32 (class ids as int64).

Writes to --out (normally tests/fixtures/):
  detector_r50_tiny.pth, detector_r18_tiny.pth   {"model": state_dict, "__author__": ...}
  detector_parity.safetensors                    inputs, FPN maps, RPN and final outputs
  roi_align.safetensors                          standalone multi-level ROIAlignV2 case
  detector_r50_shapes.json                       [name, shape] of the full-size R50-FPN model

Usage: python tests/reference/detector_reference.py [--out tests/fixtures]
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from torchvision.ops import batched_nms, roi_align

# ------------------------------------------------------------------------------------------
# configuration (detectron2 defaults for faster_rcnn_R_50_FPN_3x at test time)
# ------------------------------------------------------------------------------------------

PIXEL_MEAN = (103.53, 116.28, 123.675)
PIXEL_STD = (1.0, 1.0, 1.0)
SIZE_DIVISIBILITY = 32
FPN_STRIDES = {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}
ANCHOR_SIZES = (32, 64, 128, 256, 512)  # one per level p2..p6
ANCHOR_RATIOS = (0.5, 1.0, 2.0)
ANCHOR_OFFSET = 0.0
SCALE_CLAMP = math.log(1000.0 / 16)
RPN_BBOX_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
RPN_NMS_THRESH = 0.7
RPN_PRE_NMS_TOPK = 1000  # per level
RPN_POST_NMS_TOPK = 1000  # total
RPN_MIN_SIZE = 0.0
POOLER_RESOLUTION = 7
POOLER_SAMPLING_RATIO = 0
CANONICAL_BOX_SIZE = 224
CANONICAL_LEVEL = 4
ROI_BBOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
SCORE_THRESH = 0.05
NMS_THRESH = 0.5
DETECTIONS_PER_IMAGE = 100

# Full-size faster_rcnn_R_50_FPN_3x (shapes only) and the two reduced parity models.
FULL_R50 = dict(depth=50, stem_out=64, res2_out=256, width_per_group=64, fpn=256, fc=1024, num_classes=2)
CONFIGS = {
    "r50": dict(depth=50, stem_out=8, res2_out=16, width_per_group=4, fpn=8, fc=32, num_classes=2, seed=5),
    "r18": dict(depth=18, stem_out=4, res2_out=4, width_per_group=4, fpn=8, fc=32, num_classes=2, seed=11),
}
SCORE_MAP_H, SCORE_MAP_W = 200, 300
SCORE_MAP_SEED = 2024


# ------------------------------------------------------------------------------------------
# modules with detectron2's parameter names
# ------------------------------------------------------------------------------------------


class FrozenBatchNorm2d(nn.Module):
    """layers/batch_norm.py: affine + running stats as buffers (no num_batches_tracked)."""

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features) - eps)

    def forward(self, x):
        # the inference branch of detectron2's FrozenBatchNorm2d
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


class Conv2d(nn.Conv2d):
    """layers/wrappers.py Conv2d: a conv with an optional `norm` submodule applied after it."""

    def __init__(self, *args, norm=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = norm

    def forward(self, x):
        x = super().forward(x)
        return self.norm(x) if self.norm is not None else x


def conv_bn(cin, cout, k, stride=1, padding=0):
    return Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False, norm=FrozenBatchNorm2d(cout))


class BasicStem(nn.Module):
    def __init__(self, out_channels):
        super().__init__()
        self.conv1 = conv_bn(3, out_channels, 7, stride=2, padding=3)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)


class BasicBlock(nn.Module):
    """ResNet-18/34 block: 3x3 (stride) -> relu -> 3x3, projection shortcut iff in != out."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.shortcut = conv_bn(cin, cout, 1, stride=stride) if cin != cout else None
        self.conv1 = conv_bn(cin, cout, 3, stride=stride, padding=1)
        self.conv2 = conv_bn(cout, cout, 3, padding=1)

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(x)))
        out = out + (self.shortcut(x) if self.shortcut is not None else x)
        return F.relu(out)


class BottleneckBlock(nn.Module):
    """ResNet-50 block, MSRA variant (stride_in_1x1=True): 1x1 (stride) -> 3x3 -> 1x1."""

    def __init__(self, cin, cout, bottleneck, stride):
        super().__init__()
        self.shortcut = conv_bn(cin, cout, 1, stride=stride) if cin != cout else None
        self.conv1 = conv_bn(cin, bottleneck, 1, stride=stride)
        self.conv2 = conv_bn(bottleneck, bottleneck, 3, padding=1)
        self.conv3 = conv_bn(bottleneck, cout, 1)

    def forward(self, x):
        out = F.relu(self.conv1(x))
        out = F.relu(self.conv2(out))
        out = self.conv3(out)
        out = out + (self.shortcut(x) if self.shortcut is not None else x)
        return F.relu(out)


class ResNet(nn.Module):
    """modeling/backbone/resnet.py build_resnet_backbone: stem + res2..res5."""

    BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}

    def __init__(self, depth, stem_out, res2_out, width_per_group):
        super().__init__()
        self.stem = BasicStem(stem_out)
        cin, cout, bottleneck = stem_out, res2_out, width_per_group
        self.out_channels = []
        for i, n in enumerate(self.BLOCKS[depth]):
            blocks = []
            for b in range(n):
                stride = 2 if (b == 0 and i > 0) else 1
                if depth >= 50:
                    blocks.append(BottleneckBlock(cin, cout, bottleneck, stride))
                else:
                    blocks.append(BasicBlock(cin, cout, stride))
                cin = cout
            self.add_module(f"res{i + 2}", nn.Sequential(*blocks))
            self.out_channels.append(cout)
            cout, bottleneck = cout * 2, bottleneck * 2

    def forward(self, x):
        x = self.stem(x)
        out = {}
        for name in ("res2", "res3", "res4", "res5"):
            x = getattr(self, name)(x)
            out[name] = x
        return out


class FPN(nn.Module):
    """modeling/backbone/fpn.py: laterals/outputs registered before bottom_up (same key order)."""

    def __init__(self, bottom_up, out_channels):
        super().__init__()
        for stage, cin in zip((2, 3, 4, 5), bottom_up.out_channels):
            self.add_module(f"fpn_lateral{stage}", nn.Conv2d(cin, out_channels, 1))
            self.add_module(f"fpn_output{stage}", nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.bottom_up = bottom_up

    def forward(self, x):
        c = self.bottom_up(x)
        prev = self.fpn_lateral5(c["res5"])
        results = {"p5": self.fpn_output5(prev)}
        for stage in (4, 3, 2):
            top_down = F.interpolate(prev, scale_factor=2.0, mode="nearest")
            prev = getattr(self, f"fpn_lateral{stage}")(c[f"res{stage}"]) + top_down
            results[f"p{stage}"] = getattr(self, f"fpn_output{stage}")(prev)
        # LastLevelMaxPool on P5
        results["p6"] = F.max_pool2d(results["p5"], kernel_size=1, stride=2, padding=0)
        return {k: results[k] for k in ("p2", "p3", "p4", "p5", "p6")}


class StandardRPNHead(nn.Module):
    def __init__(self, channels, num_anchors):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.objectness_logits = nn.Conv2d(channels, num_anchors, 1)
        self.anchor_deltas = nn.Conv2d(channels, num_anchors * 4, 1)

    def forward(self, features):
        logits, deltas = [], []
        for x in features:
            t = F.relu(self.conv(x))
            logits.append(self.objectness_logits(t))
            deltas.append(self.anchor_deltas(t))
        return logits, deltas


class RPN(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.rpn_head = StandardRPNHead(channels, len(ANCHOR_RATIOS))


class FastRCNNConvFCHead(nn.Module):
    def __init__(self, in_dim, fc_dim):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, fc_dim)
        self.fc2 = nn.Linear(fc_dim, fc_dim)

    def forward(self, x):
        x = torch.flatten(x, start_dim=1)
        return F.relu(self.fc2(F.relu(self.fc1(x))))


class FastRCNNOutputLayers(nn.Module):
    def __init__(self, fc_dim, num_classes):
        super().__init__()
        self.cls_score = nn.Linear(fc_dim, num_classes + 1)  # background is the LAST column
        self.bbox_pred = nn.Linear(fc_dim, num_classes * 4)  # class-specific regression

    def forward(self, x):
        return self.cls_score(x), self.bbox_pred(x)


class StandardROIHeads(nn.Module):
    def __init__(self, channels, fc_dim, num_classes):
        super().__init__()
        self.box_head = FastRCNNConvFCHead(channels * POOLER_RESOLUTION**2, fc_dim)
        self.box_predictor = FastRCNNOutputLayers(fc_dim, num_classes)


class GeneralizedRCNN(nn.Module):
    def __init__(self, depth, stem_out, res2_out, width_per_group, fpn, fc, num_classes, **_):
        super().__init__()
        self.backbone = FPN(ResNet(depth, stem_out, res2_out, width_per_group), fpn)
        self.proposal_generator = RPN(fpn)
        self.roi_heads = StandardROIHeads(fpn, fc, num_classes)


# ------------------------------------------------------------------------------------------
# random weights
# ------------------------------------------------------------------------------------------

# Target output std of the prediction layers on the fixture score map (other layers: 1.0);
# these layers are also made zero-mean per output channel; see calibrate().
TARGET_STD = {
    "proposal_generator.rpn_head.objectness_logits": 2.5,
    "proposal_generator.rpn_head.anchor_deltas": 0.15,
    "roi_heads.box_predictor.cls_score": 1.5,
    "roi_heads.box_predictor.bbox_pred": 1.0,
}
BACKGROUND_BIAS = 6.0  # keeps most foreground probabilities below the 0.05 test threshold


def init_random_weights(model, seed):
    """He-normal conv/linear weights, biases U(-0.1, 0.1), FrozenBN weight U(0.5, 1.5),
    bias U(-0.1, 0.1), running_mean U(-0.1, 0.1), running_var U(0.5, 1.5); seeded."""
    g = torch.Generator().manual_seed(seed)
    sd = model.state_dict()
    for name, t in sd.items():
        leaf = name.rsplit(".", 1)[-1]
        if ".norm." in name:
            lo, hi = {"weight": (0.5, 1.5), "bias": (-0.1, 0.1), "running_mean": (-0.1, 0.1), "running_var": (0.5, 1.5)}[leaf]
            sd[name] = lo + (hi - lo) * torch.rand(t.shape, generator=g)
        elif leaf == "bias":
            sd[name] = -0.1 + 0.2 * torch.rand(t.shape, generator=g)
        else:
            sd[name] = torch.randn(t.shape, generator=g) * math.sqrt(2.0 / t[0].numel())
    model.load_state_dict(sd)


def calibrate(model, score_map):
    """LSUV-style: run the pipeline once and multiply each conv/linear (weight and bias) by one
    scalar so that its output has the TARGET_STD (random He weights alone blow up through the
    16 residual blocks and the ~-110 input); the prediction layers' biases are first shifted so
    that each output has zero mean. Then set the background bias and round to float32."""
    model.double()
    done = set()

    def hook(module, _inputs, output):
        if module in done:  # the RPN head runs once per level; calibrate on P2
            return output
        done.add(module)
        if module.calib_name in TARGET_STD:  # prediction layers: also zero mean per output
            dims = [0] if output.dim() == 2 else [0, 2, 3]
            mean = output.mean(dim=dims)
            module.bias.data -= mean
            output = output - (mean.view(1, -1, 1, 1) if output.dim() == 4 else mean)
        s = output.std() / TARGET_STD.get(module.calib_name, 1.0)
        module.weight.data /= s
        if module.bias is not None:
            module.bias.data /= s
        return output / s

    handles = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.calib_name = name
            handles.append(m.register_forward_hook(hook))
    with torch.no_grad():
        run_detector(model, score_map)
    for h in handles:
        h.remove()
    model.roi_heads.box_predictor.cls_score.bias.data[-1] += BACKGROUND_BIAS
    model.float()


# ------------------------------------------------------------------------------------------
# pipeline stages
# ------------------------------------------------------------------------------------------


def make_score_map(seed=SCORE_MAP_SEED):
    """Smooth energy-like background around -7 plus Gaussian / elliptic anomaly blobs (float32)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(SCORE_MAP_H, dtype=torch.float64)[:, None]
    x = torch.arange(SCORE_MAP_W, dtype=torch.float64)[None, :]
    m = torch.full((SCORE_MAP_H, SCORE_MAP_W), -7.0, dtype=torch.float64)
    for _ in range(4):  # low-frequency waves
        fy, fx, ph = (torch.rand(3, generator=g, dtype=torch.float64) * torch.tensor([0.05, 0.05, 6.28], dtype=torch.float64)).tolist()
        m += 0.6 * torch.sin(fy * y + fx * x + ph)
    m += 0.05 * torch.randn(SCORE_MAP_H, SCORE_MAP_W, generator=g, dtype=torch.float64)
    # (cy, cx, sy, sx, angle, peak): small/medium/large blobs, one elongated, one cut by the border
    blobs = [
        (60, 80, 8, 10, 0.0, 14.0),
        (130, 200, 25, 35, 0.4, 16.0),
        (150, 60, 5, 30, -0.2, 13.0),
        (20, 280, 18, 12, 0.0, 15.0),
        (185, 150, 40, 60, 0.0, 12.0),
    ]
    for cy, cx, sy, sx, a, peak in blobs:
        dy, dx = y - cy, x - cx
        u = (math.cos(a) * dx + math.sin(a) * dy) / sx
        v = (-math.sin(a) * dx + math.cos(a) * dy) / sy
        m += peak * torch.exp(-0.5 * (u * u + v * v))
    return m.to(torch.float32)


def preprocess(score_map):
    """GeneralizedRCNN.preprocess_image + ImageList.from_tensors: [H,W] -> [1,3,Hp,Wp]."""
    h, w = score_map.shape
    img = score_map.to(torch.float64)[None].expand(3, h, w)
    mean = torch.tensor(PIXEL_MEAN, dtype=torch.float64).view(3, 1, 1)
    std = torch.tensor(PIXEL_STD, dtype=torch.float64).view(3, 1, 1)
    img = (img - mean) / std
    hp = (h + SIZE_DIVISIBILITY - 1) // SIZE_DIVISIBILITY * SIZE_DIVISIBILITY
    wp = (w + SIZE_DIVISIBILITY - 1) // SIZE_DIVISIBILITY * SIZE_DIVISIBILITY
    img = F.pad(img, [0, wp - w, 0, hp - h], value=0.0)  # pad AFTER normalisation
    return img[None].contiguous(), (h, w)


def rpn_head_outputs(model, features):
    """StandardRPNHead + RPN.forward's transposes: per level logits [H*W*A], deltas [H*W*A,4]."""
    logits, deltas = model.proposal_generator.rpn_head([features[k] for k in FPN_STRIDES])
    logits = [t.permute(0, 2, 3, 1).flatten(1)[0] for t in logits]  # (N,A,H,W) -> (H*W*A)
    deltas = [
        d.view(d.shape[0], -1, 4, d.shape[-2], d.shape[-1]).permute(0, 3, 4, 1, 2).flatten(1, -2)[0]
        for d in deltas  # (N,A*4,H,W) -> (N,A,4,H,W) -> (N,H,W,A,4) -> (H*W*A,4)
    ]
    return logits, deltas


def generate_anchors(features):
    """DefaultAnchorGenerator: float32 cell anchors (built in float64, then .float()), shifted."""
    anchors = []
    for (name, stride), size in zip(FPN_STRIDES.items(), ANCHOR_SIZES):
        cell = []
        for ratio in ANCHOR_RATIOS:
            w = math.sqrt(size**2.0 / ratio)
            h = ratio * w
            cell.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
        cell = torch.tensor(cell, dtype=torch.float64).float()
        gh, gw = features[name].shape[-2:]
        sx = torch.arange(ANCHOR_OFFSET * stride, gw * stride, step=stride, dtype=torch.float32)
        sy = torch.arange(ANCHOR_OFFSET * stride, gh * stride, step=stride, dtype=torch.float32)
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        shifts = torch.stack((sx.reshape(-1), sy.reshape(-1), sx.reshape(-1), sy.reshape(-1)), dim=1)
        anchors.append((shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4))
    return anchors


def apply_deltas(deltas, boxes, weights):
    """Box2BoxTransform.apply_deltas; deltas (R, K*4), boxes (R, 4) -> (R, K*4)."""
    boxes = boxes.to(deltas.dtype)
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    ctr_x = boxes[:, 0] + 0.5 * widths
    ctr_y = boxes[:, 1] + 0.5 * heights
    wx, wy, ww, wh = weights
    dx = deltas[:, 0::4] / wx
    dy = deltas[:, 1::4] / wy
    dw = torch.clamp(deltas[:, 2::4] / ww, max=SCALE_CLAMP)
    dh = torch.clamp(deltas[:, 3::4] / wh, max=SCALE_CLAMP)
    pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
    pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
    pred_w = torch.exp(dw) * widths[:, None]
    pred_h = torch.exp(dh) * heights[:, None]
    out = torch.zeros_like(deltas)
    out[:, 0::4] = pred_ctr_x - 0.5 * pred_w
    out[:, 1::4] = pred_ctr_y - 0.5 * pred_h
    out[:, 2::4] = pred_ctr_x + 0.5 * pred_w
    out[:, 3::4] = pred_ctr_y + 0.5 * pred_h
    return out


def clip_boxes(boxes, image_size):
    """Boxes.clip: x to [0, w], y to [0, h] (unpadded size)."""
    h, w = image_size
    return torch.stack(
        (boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h), boxes[:, 2].clamp(0, w), boxes[:, 3].clamp(0, h)), dim=1
    )


def nonempty(boxes, threshold=0.0):
    """Boxes.nonempty: both sides strictly larger than the threshold."""
    return ((boxes[:, 2] - boxes[:, 0]) > threshold) & ((boxes[:, 3] - boxes[:, 1]) > threshold)


def find_top_rpn_proposals(proposals, logits, image_size):
    """proposal_utils.find_top_rpn_proposals at test time, one image."""
    boxes, scores, levels = [], [], []
    for lvl, (p, s) in enumerate(zip(proposals, logits)):
        k = min(s.numel(), RPN_PRE_NMS_TOPK)
        top_s, top_i = s.topk(k)  # sorted, descending
        boxes.append(p[top_i])
        scores.append(top_s)
        levels.append(torch.full((k,), lvl, dtype=torch.int64))
    boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
    valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(scores)
    boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
    boxes = clip_boxes(boxes, image_size)
    keep = nonempty(boxes, RPN_MIN_SIZE)
    boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
    keep = batched_nms(boxes, scores, levels, RPN_NMS_THRESH)[:RPN_POST_NMS_TOPK]
    return boxes[keep], scores[keep]


def assign_boxes_to_levels(boxes, min_level=2, max_level=5):
    """poolers.assign_boxes_to_levels: floor(4 + log2(sqrt(area)/224 + eps)), clamped, - min."""
    eps = sys.float_info.epsilon
    sizes = torch.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    lvl = torch.floor(CANONICAL_LEVEL + torch.log2(sizes / CANONICAL_BOX_SIZE + eps))
    return torch.clamp(lvl, min=min_level, max=max_level).to(torch.int64) - min_level


def roi_pool(features, boxes, strides):
    """ROIPooler(ROIAlignV2): per-level torchvision roi_align(aligned=True, sampling_ratio=0)."""
    levels = assign_boxes_to_levels(boxes)
    rois = torch.cat([torch.zeros(len(boxes), 1, dtype=boxes.dtype), boxes], dim=1)  # batch idx 0
    out = torch.zeros(len(boxes), features[0].shape[1], POOLER_RESOLUTION, POOLER_RESOLUTION, dtype=features[0].dtype)
    for lvl, (x, stride) in enumerate(zip(features, strides)):
        inds = torch.nonzero(levels == lvl).flatten()
        out[inds] = roi_align(x, rois[inds].to(x.dtype), POOLER_RESOLUTION, 1.0 / stride, POOLER_SAMPLING_RATIO, aligned=True)
    return out, levels


def fast_rcnn_inference(boxes, probs, image_size):
    """fast_rcnn.fast_rcnn_inference_single_image: boxes (R, K*4), probs (R, K+1)."""
    valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(probs).all(dim=1)
    boxes, probs = boxes[valid], probs[valid]
    scores = probs[:, :-1]  # drop background (last column)
    k = boxes.shape[1] // 4
    boxes = clip_boxes(boxes.reshape(-1, 4), image_size).view(-1, k, 4)
    mask = scores > SCORE_THRESH  # R x K
    inds = mask.nonzero()  # row-major: (proposal, class)
    boxes, scores = boxes[mask], scores[mask]
    keep = batched_nms(boxes, scores, inds[:, 1], NMS_THRESH)[:DETECTIONS_PER_IMAGE]
    return boxes[keep], scores[keep], inds[keep, 1], inds[keep, 0], int(mask.sum())


def detector_postprocess(boxes, scores, classes, src, image_size):
    """postprocessing.detector_postprocess with output size == input size (scale 1.0):
    clip once more and drop boxes with a zero side (fast_rcnn_inference keeps them)."""
    keep = nonempty(clip_boxes(boxes, image_size))
    return boxes[keep], scores[keep], classes[keep], src[keep], int((~keep).sum())


def run_detector(model, score_map):
    """The full test-time forward; returns every intermediate the fixtures need."""
    images, image_size = preprocess(score_map)
    images = images.to(next(model.parameters()).dtype)
    feats = model.backbone(images)
    logits, deltas = rpn_head_outputs(model, feats)
    anchors = generate_anchors(feats)
    proposals = [apply_deltas(d, a, RPN_BBOX_WEIGHTS) for d, a in zip(deltas, anchors)]
    prop_boxes, prop_logits = find_top_rpn_proposals(proposals, logits, image_size)
    box_feats = [feats[k] for k in ("p2", "p3", "p4", "p5")]
    pooled, roi_levels = roi_pool(box_feats, prop_boxes, (4, 8, 16, 32))
    cls_logits, box_deltas = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
    pred_boxes = apply_deltas(box_deltas, prop_boxes, ROI_BBOX_WEIGHTS)
    probs = F.softmax(cls_logits, dim=-1)
    boxes, scores, classes, src, n_above = fast_rcnn_inference(pred_boxes, probs, image_size)
    boxes, scores, classes, src, n_dropped = detector_postprocess(boxes, scores, classes, src, image_size)
    return dict(
        feats=feats, logits=logits, deltas=deltas, prop_boxes=prop_boxes, prop_logits=prop_logits,
        roi_levels=roi_levels, boxes=boxes, scores=scores, classes=classes, src=src, n_above=n_above, n_dropped=n_dropped,
    )


# ------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------


def f32(t):
    return t.detach().to(torch.float32).contiguous().clone()


def build_model(cfg, score_map):
    model = GeneralizedRCNN(**cfg).eval()
    init_random_weights(model, cfg["seed"])
    calibrate(model, score_map)
    return model


def float32_agreement(model, score_map, ref):
    """Rerun the same pipeline in float32: do the discrete choices (top-k, NMS, threshold) agree?

    Proposals are compared as sets (near-tied objectness logits may swap places in float32);
    detections by count, class and box/score in output order."""
    with torch.no_grad():
        out = run_detector(model.float(), score_map)
    model.double()
    p64, p32 = ref["prop_boxes"], out["prop_boxes"].double()
    msg = f"float32 rerun: {len(p32)} proposals"
    ok = len(p32) == len(p64)
    if ok:
        nearest = torch.cdist(p64, p32, p=float("inf")).min(dim=1).values.max().item()
        order = (p64 - p32).abs().amax(dim=1) > 1e-2
        msg += f" (same set: max dist {nearest:.1e}; {int(order.sum())} swapped places)"
        ok = nearest < 1e-2
    d64, d32 = ref["boxes"], out["boxes"].double()
    msg += f"; {len(d32)} detections"
    if len(d32) == len(d64) and torch.equal(out["classes"], ref["classes"]):
        msg += (f" (max |dbox| {(d64 - d32).abs().max().item():.1e}, "
                f"max |dscore| {(ref['scores'] - out['scores'].double()).abs().max().item():.1e})")
        ok = ok and (d64 - d32).abs().max().item() < 1e-2
    else:
        ok = False
    return msg, ok


def detector_fixtures(out_dir):
    score_map = make_score_map()
    tensors = {}
    for name, cfg in CONFIGS.items():
        model = build_model(cfg, score_map)
        torch.save({"model": {k: v.clone() for k, v in model.state_dict().items()}, "__author__": "s2m reference"},
                   os.path.join(out_dir, f"detector_{name}_tiny.pth"))
        model.double()
        with torch.no_grad():
            ref = run_detector(model, score_map)
        tensors[f"{name}.score_map"] = f32(score_map)
        for k, v in ref["feats"].items():
            tensors[f"{name}.{k}"] = f32(v)
        tensors[f"{name}.rpn_proposals"] = f32(ref["prop_boxes"])
        tensors[f"{name}.rpn_objectness"] = f32(ref["prop_logits"])
        tensors[f"{name}.rpn_logits_p2"] = f32(ref["logits"][0])
        tensors[f"{name}.rpn_deltas_p2"] = f32(ref["deltas"][0])
        tensors[f"{name}.boxes"] = f32(ref["boxes"])
        tensors[f"{name}.scores"] = f32(ref["scores"])
        tensors[f"{name}.classes"] = ref["classes"].to(torch.int64).contiguous()
        n_params = sum(v.numel() for v in model.state_dict().values())
        lv = torch.bincount(ref["roi_levels"], minlength=4).tolist()
        s = ref["scores"]
        print(f"[{name}] params {n_params}, proposals {len(ref['prop_boxes'])} (pooler levels {lv}), "
              f"candidates > {SCORE_THRESH}: {ref['n_above']}, detections {len(s)} "
              f"(classes {torch.bincount(ref['classes'], minlength=2).tolist()}), "
              f"scores {s.min().item():.4f}..{s.max().item():.4f}")
        msg, ok = float32_agreement(model, score_map, ref)
        print(f"[{name}] {msg}")
        if not ok:
            print(f"[{name}] WARNING: float32 changes a discrete choice (topk / NMS / threshold)")
    save_file(tensors, os.path.join(out_dir, "detector_parity.safetensors"),
              metadata={"info": "detectron2 Faster R-CNN R-FPN reference (float64, saved float32)"})


def roi_align_fixture(out_dir, seed=31):
    """Standalone ROIPooler case on a 70x90 image with 4 levels (strides 4..32)."""
    g = torch.Generator().manual_seed(seed)
    img_h, img_w, channels = 70, 90, 5
    strides = (4, 8, 16, 32)
    feats = [torch.randn(1, channels, math.ceil(img_h / s), math.ceil(img_w / s), generator=g) for s in strides]
    boxes = [
        # level 0 (sqrt(area) < 112)
        [10, 12, 30, 40], [33.3, 5.7, 61.9, 29.2], [0, 0, 90, 70], [50.5, 20.25, 88.75, 69.5],
        # exact level boundaries: sqrt(area) = 112 / 224 / 448 go to the upper level
        [-11, -21, 101, 91], [17, -77, 73, 147], [-67, -77, 157, 147], [-179, -189, 269, 259],
        [-10.95, -20.95, 100.95, 90.95],  # sqrt(area) = 111.9 -> level 0
        # level 1..3, larger than the image
        [-20, -30, 110, 100], [5, -60, 80, 130], [-100, -90, 190, 160], [-150, -120, 240, 200],
        [-250, -260, 340, 330], [-300, -200, 320, 280],
        # image borders
        [0, 0, 20, 15], [70, 50, 90, 70], [0, 35, 12, 70], [80, 0, 90, 10], [-10, -10, 20, 20],
        # zero size
        [10, 10, 10, 20], [5, 5, 25, 5], [30, 30, 30, 30], [90, 70, 90, 70], [0, 0, 0, 0],
        # fully outside the map
        [-50, -40, -10, -5], [100, 80, 140, 120], [-30, 10, -2, 40], [95, -20, 130, -1],
        [-700, -650, -100, -120],
        # tiny, sub-pixel
        [10.2, 10.3, 10.7, 10.6], [0.1, 0.1, 0.4, 0.9], [89.5, 69.5, 89.9, 69.9], [44.9, 33.1, 45.05, 33.2],
        # elongated
        [0, 30, 90, 33], [40, 0, 42, 70], [-20, 20, 200, 25], [3.5, 60.25, 86.5, 61.0],
        [-400, 30, 500, 40], [44, -300, 46, 400],
    ]
    boxes = torch.tensor(boxes, dtype=torch.float32)
    feats64 = [f.double() for f in feats]
    pooled, levels = roi_pool(feats64, boxes.double(), strides)
    tensors = {f"features_p{i + 2}": f.contiguous() for i, f in enumerate(feats)}
    tensors.update(boxes=boxes, levels=levels.contiguous(), pooled=f32(pooled))
    save_file(tensors, os.path.join(out_dir, "roi_align.safetensors"),
              metadata={"info": "detectron2 ROIPooler ROIAlignV2 7x7 on a 70x90 image, strides 4..32"})
    print(f"[roi_align] {len(boxes)} boxes, levels {torch.bincount(levels, minlength=4).tolist()}, "
          f"all-zero outputs {int((pooled.abs().amax(dim=(1, 2, 3)) == 0).sum())}")


def full_shapes(out_dir):
    with torch.device("meta"):
        model = GeneralizedRCNN(**FULL_R50)
    shapes = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    with open(os.path.join(out_dir, "detector_r50_shapes.json"), "w") as f:
        json.dump(shapes, f)
    print(f"[full r50] {len(shapes)} tensors, {sum(math.prod(s) for _, s in shapes)} values")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)  # deterministic float64 reductions
    detector_fixtures(args.out)
    roi_align_fixture(args.out)
    full_shapes(args.out)


if __name__ == "__main__":
    main()
