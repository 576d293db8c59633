"""Detection metrics: boxes are (x, y, w, h) in pixels."""

from __future__ import annotations

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in `a` (n x 4) with every box in `b` (m x 4)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    bottom = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = (a[:, None, 2] * a[:, None, 3]) + (b[None, :, 2] * b[None, :, 3]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match(truth: np.ndarray, detected: np.ndarray, scores: np.ndarray,
          min_iou: float = 0.5) -> list[tuple[int, int, float]]:
    """Greedy matching as in PASCAL VOC: detections from the most confident down each take the
    unmatched true box they overlap most, if that overlap is >= min_iou.

    Returns (detection index, true box index, IoU) for every match.
    """
    overlaps = iou(detected, truth)
    free = np.ones(overlaps.shape[1], bool)
    matches = []
    for d in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"):
        if not free.any():
            break
        candidates = np.where(free, overlaps[d], -1.0)
        t = int(np.argmax(candidates))
        if candidates[t] >= min_iou:
            free[t] = False
            matches.append((int(d), t, float(candidates[t])))
    return matches
