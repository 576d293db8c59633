"""Detection metrics: boxes are (x, y, w, h) in pixels."""

from __future__ import annotations

import numpy as np

from ..boxes import iou


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
