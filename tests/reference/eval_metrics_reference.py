"""Reference values for s2m-eval's metrics (crates/s2m-eval/tests/sklearn_fixtures.rs).

Each case is a small dataset of frames (scores, labels 0 / 1 / 255). For it this script
computes, independently of our Rust code:

- SMIYC pixel metrics over the judged pixels (label < 255): scikit-learn's
  `average_precision_score`, `roc_auc_score`, and the FPR at the first ROC point with
  TPR >= 0.95 (`roc_curve(drop_intermediate=False)`, `np.searchsorted(tpr, 0.95)`, as
  road-anomaly-benchmark's `pixel_classification_curves.py` and RPL's `get_metrics` do);
- S2M's per-image IoU(t) and F1(t) for t = i / 100, prediction `score > t_real` with
  `t_real = t * (high - low) + low` (float64), averaged over images (S2M's `tools/inference.py`
  `calculate_miou`; union 0 -> 0), best IoU, AuIoU (`np.trapz`) and mean F1, void excluded
  and void counted (the reference code's way);
- SMIYC component metrics at a given threshold (prediction `score >= threshold`), following
  `default_instancer` and the sIoU / PPV loop of road-anomaly-benchmark's
  `metrics/instance_segmentation.py`, with scikit-image's 8-connected `measure.label`.

Run: `python tests/reference/eval_metrics_reference.py --out tests/fixtures/eval_metrics.json`
(needs numpy, scikit-learn, scikit-image; deterministic, under a second).
"""

import argparse
import json

import numpy as np
from skimage import measure
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

TAUS = np.linspace(0.25, 0.75, 11)


def pixel_metrics(frames):
    scores = np.concatenate([f["scores"].ravel() for f in frames]).astype(np.float64)
    labels = np.concatenate([f["labels"].ravel() for f in frames])
    keep = labels < 255
    scores, truth = scores[keep], labels[keep] == 1
    if truth.all() or not truth.any():
        return None
    fpr, tpr, _ = roc_curve(truth, scores, drop_intermediate=False)
    index = np.searchsorted(tpr, 0.95)
    return {
        "average_precision": float(average_precision_score(truth, scores)),
        "auroc": float(roc_auc_score(truth, scores)),
        "fpr_at_95_tpr": float(fpr[index]) if index < len(fpr) else 1.0,
    }


def threshold_metrics(frames, low, high, count_void):
    thresholds = np.arange(101) / 100.0
    ious, f1s = [], []
    for t in thresholds:
        t_real = t * (high - low) + low
        frame_iou, frame_f1 = [], []
        for f in frames:
            labels = f["labels"]
            predicted = f["scores"].astype(np.float64) > t_real
            truth = labels == 1
            if not count_void:
                predicted = predicted & (labels != 255)
            intersection = np.logical_and(truth, predicted).sum()
            union = np.logical_or(truth, predicted).sum()
            if union == 0:
                frame_iou.append(0.0)
                frame_f1.append(0.0)
            else:
                frame_iou.append(intersection / union)
                frame_f1.append(2 * intersection / (intersection + union))
        ious.append(np.mean(frame_iou))
        f1s.append(np.mean(frame_f1))
    ious = np.array(ious)
    return {
        "iou_curve": ious.tolist(),
        "best_iou": float(ious.max()),
        "best_threshold": float(thresholds[int(np.argmax(ious))]),
        "au_iou": float(np.trapezoid(ious, thresholds)),
        "mean_f1": float(np.mean(f1s)),
    }


def frame_components(scores, labels, threshold, min_predicted, min_truth):
    labels = labels.copy()
    prediction = (scores >= threshold).astype(np.uint8)
    prediction[labels == 255] = 0
    truth_instances = measure.label(labels == 1, connectivity=2)
    predicted = measure.label(prediction, connectivity=2)
    for c in range(1, predicted.max() + 1):
        if np.sum(predicted == c) < min_predicted:
            predicted[predicted == c] = 0
    for c in range(1, truth_instances.max() + 1):
        if np.sum(truth_instances == c) < min_truth:
            labels[truth_instances == c] = 255
    roi = labels < 255
    instances, segments = truth_instances[roi], predicted[roi]
    siou = []
    for i in np.unique(instances[instances > 0]):
        hit = segments[instances == i]
        touched = np.unique(hit[hit != 0])
        intersection = len(hit[np.isin(hit, touched)])
        adjustment = len(segments[np.logical_and(~np.isin(instances, [0, i]), np.isin(segments, touched))])
        union = np.sum(np.isin(segments, touched)) + np.sum(instances == i) - intersection - adjustment
        siou.append(intersection / union)
    ppv = []
    for i in np.unique(segments[segments > 0]):
        on = instances[segments == i]
        ppv.append(len(on[on != 0]) / np.sum(segments == i))
    return siou, ppv


def component_metrics(frames, threshold, min_predicted, min_truth):
    tp = np.zeros(len(TAUS))
    fn = np.zeros(len(TAUS))
    fp = np.zeros(len(TAUS))
    all_siou, all_ppv = [], []
    for f in frames:
        siou, ppv = frame_components(f["scores"], f["labels"], threshold, min_predicted, min_truth)
        siou, ppv = np.array(siou), np.array(ppv)
        for k, tau in enumerate(TAUS):
            tp[k] += np.count_nonzero(siou >= tau)
            fn[k] += np.count_nonzero(siou < tau)
            fp[k] += np.count_nonzero(ppv < tau)
        all_siou += siou.tolist()
        all_ppv += ppv.tolist()
    with np.errstate(invalid="ignore"):
        f1 = np.where(2 * tp + fn + fp > 0, 2 * tp / np.maximum(2 * tp + fn + fp, 1), 0.0)
    return {
        "mean_siou": float(np.mean(all_siou)) if all_siou else 0.0,
        "mean_ppv": float(np.mean(all_ppv)) if all_ppv else 0.0,
        "mean_f1": float(np.mean(f1)),
        "ground_truth_components": len(all_siou),
        "predicted_components": len(all_ppv),
    }


def blobs(rng, h, w, count, radius):
    """A 0/1 mask of `count` random discs and boxes."""
    mask = np.zeros((h, w), bool)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(count):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        r = rng.integers(1, radius + 1)
        if rng.random() < 0.5:
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        else:
            mask |= (abs(yy - cy) <= r) & (abs(xx - cx) <= r // 2 + 1)
    return mask


def make_frame(rng, h, w, kind):
    truth = blobs(rng, h, w, rng.integers(1, 5), 7)
    labels = truth.astype(np.uint8)
    void = blobs(rng, h, w, 2, 4) & ~truth
    labels[void] = 255
    noise = rng.normal(0, 1, (h, w))
    if kind == "continuous":
        scores = noise + 2.0 * truth + 1.0 * blobs(rng, h, w, 2, 5)
    elif kind == "ties":
        scores = np.round(np.clip(0.3 * noise + 0.5 * truth + 0.2, 0, 1) * 10) / 10
    elif kind == "energy":
        scores = -12.0 + 3.0 * noise + 6.0 * truth
    elif kind == "all_anomaly":
        labels[:] = 1
        scores = noise
    elif kind == "no_anomaly":
        labels[labels == 1] = 0
        scores = noise
    elif kind == "confidence":
        # S2M's confidence: 0 but inside a few boxes' masks, holding their scores.
        scores = np.zeros((h, w))
        for s in rng.choice([0.83, 0.91, 0.97, 0.86], size=3, replace=False):
            scores[blobs(rng, h, w, 1, 8)] = s
        scores[truth & (rng.random((h, w)) < 0.7)] = 0.95
    else:
        raise ValueError(kind)
    return {"scores": scores.astype(np.float32), "labels": labels}


CASES = [
    # name, kind, frames, height, width
    ("continuous", "continuous", 3, 40, 56),
    ("ties", "ties", 3, 32, 48),
    ("energy", "energy", 2, 36, 44),
    ("all_anomaly", "all_anomaly", 1, 16, 16),
    ("no_anomaly", "no_anomaly", 2, 20, 24),
    ("confidence", "confidence", 3, 48, 64),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(20261207)
    cases = []
    for name, kind, n, h, w in CASES:
        frames = [make_frame(rng, h, w, kind) for _ in range(n)]
        all_scores = np.concatenate([f["scores"].ravel() for f in frames]).astype(np.float64)
        if kind == "confidence":
            low, high = 0.0, 1.0
        else:
            low, high = float(all_scores.min()), float(all_scores.max())
        threshold = float(np.quantile(all_scores, 0.8))
        # A float32 threshold: the Rust side thresholds f32 scores.
        threshold = float(np.float32(threshold))
        case = {
            "name": name,
            "frames": [
                {
                    "height": h,
                    "width": w,
                    "scores": f["scores"].ravel().tolist(),
                    "labels": f["labels"].ravel().tolist(),
                }
                for f in frames
            ],
            "pixel": pixel_metrics(frames),
            "range": [low, high],
            "threshold_void_excluded": threshold_metrics(frames, low, high, count_void=False),
            "threshold_void_counted": threshold_metrics(frames, low, high, count_void=True),
            "component_threshold": threshold,
            "components": {
                "anomaly_track_scaled": component_metrics(frames, threshold, 20, 8),
                "unfiltered": component_metrics(frames, threshold, 0, 0),
            },
        }
        cases.append(case)
    with open(args.out, "w") as f:
        json.dump({"generator": "tests/reference/eval_metrics_reference.py", "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
