"""Box-level figures of a prompt generator on a folder of score maps: recall at box IoU 0.5
(each ground-truth object matched to at most one box, greedily by IoU), and the share of
anomaly-free frames given no box at all. It runs `s2m detect` on every map, so it measures
the generator exactly as the pipeline runs it (its calibrated score threshold included).

Ground-truth objects are the 8-connected components of a frame's anomaly pixels with at
least --min-pixels pixels (scipy.ndimage.label), as tight boxes [x0, y0, x1, y1) in pixels.

Maps: `<stem>.npy` in --maps (float32 [H, W]; e.g. `s2m anomaly-head maps` writes
`sample_<i>.npy` and ESPNetv2's reference script `<frame stem>.npy`). Labels: `<stem>.png`
in --labels, anomaly pixels where the value is --anomaly-value; or, with --labels-from-json,
the boxes in the `sample_<i>.json` beside each map (`label` and `more_boxes`, as
`s2m anomaly-head maps` writes them; an empty list for anomaly-free frames).

    python crates/s2m-eval/recipes/generator_boxes.py --s2m target/release/s2m \
        --generator weights/s2m_generator.f16.safetensors --maps MAPS [--labels DIR | --labels-from-json]

Needs numpy, scipy and pillow.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image
from scipy import ndimage


def truth_boxes(labels, anomaly_value, min_pixels):
    components, count = ndimage.label(labels == anomaly_value, structure=np.ones((3, 3)))
    boxes = []
    for index, found in enumerate(ndimage.find_objects(components), start=1):
        if found is None or (components[found] == index).sum() < min_pixels:
            continue
        ys, xs = found
        boxes.append([xs.start, ys.start, xs.stop, ys.stop])
    return boxes


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matched(truth, found, threshold=0.5):
    pairs = sorted(
        ((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True
    )
    used_t, used_f, hits = set(), set(), 0
    for value, i, j in pairs:
        if value < threshold:
            break
        if i in used_t or j in used_f:
            continue
        used_t.add(i)
        used_f.add(j)
        hits += 1
    return hits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--s2m", required=True)
    parser.add_argument("--generator", required=True)
    parser.add_argument("--maps", required=True)
    parser.add_argument("--labels")
    parser.add_argument("--labels-from-json", action="store_true")
    parser.add_argument("--anomaly-value", type=int, default=12)
    parser.add_argument("--min-pixels", type=int, default=64)
    parser.add_argument("--frame-list", help="only these frames (file names, one a line)")
    args = parser.parse_args()
    if not args.labels and not args.labels_from_json:
        sys.exit("give --labels DIR or --labels-from-json")
    stems = sorted(f[:-4] for f in os.listdir(args.maps) if f.endswith(".npy"))
    if args.frame_list:
        wanted = {
            os.path.splitext(line.strip())[0]
            for line in open(args.frame_list)
            if line.strip() and not line.startswith("#")
        }
        stems = [s for s in stems if s in wanted]
    objects = hits = boxes_total = empty = empty_clean = 0
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "boxes.json")
        for stem in stems:
            if args.labels_from_json:
                label = json.load(open(os.path.join(args.maps, stem + ".json")))
                truth = ([label["label"]] if label.get("label") else []) + label.get("more_boxes", [])
            else:
                labels = np.array(Image.open(os.path.join(args.labels, stem + ".png")))
                truth = truth_boxes(labels, args.anomaly_value, args.min_pixels)
            subprocess.run(
                [args.s2m, "detect", "--score-map", os.path.join(args.maps, stem + ".npy"),
                 "--weights", args.generator, "--out", out],
                check=True, capture_output=True,
            )
            found = [d["box"] for d in json.load(open(out))["detections"]]
            boxes_total += len(found)
            objects += len(truth)
            hits += matched(truth, found)
            if not truth:
                empty += 1
                empty_clean += not found
    print(json.dumps({
        "maps": len(stems),
        "objects": objects,
        "recall_at_iou_50": hits / objects if objects else None,
        "boxes": boxes_total,
        "anomaly_free_maps": empty,
        "anomaly_free_maps_without_boxes": empty_clean / empty if empty else None,
    }))


if __name__ == "__main__":
    main()
