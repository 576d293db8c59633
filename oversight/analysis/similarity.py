"""Rekognition's 0-100 Similarity, calibrated so that a threshold means a false-match rate.

A calibration (calibration.py; fitted by `python -m oversight.evaluation.calibrate`) holds the
cosine at which the false-match rate (FMR) over impostor pairs drops to 10^-d for a grid of d.
Similarity is piecewise linear in d = -log10(FMR):
  d in [0, 5]: Similarity = 16 d            (FMR 1 -> 0, FMR 1e-5 -> 80)
  d > 5:       Similarity = 80 + 19 (d - 5)  (FMR 1e-6 -> 99)
Past the last calibrated cosine, Similarity rises linearly to 100 at cosine 1: only identical
vectors reach 100, and two photos of one person still rank by how alike they are.
so the default threshold 80 means one false match in 100,000 comparisons and 99 one in a million.
That strictness is deliberate: a search compares a face with every face of a collection, and at
1 in 1,000 per comparison (the first calibration) a stranger matched someone in a 569-face
gallery 41 % of the time. docs/MODEL_CARD.md has the measured rates.
"""

from __future__ import annotations

import numpy as np

# d at Similarity 100, where a map's anchors end: only a cosine of 1 (identical vectors) gets it.
TOP_DECADES = 5.0 + 20.0 / 19.0


def similarity_for_decades(decades: np.ndarray) -> np.ndarray:
    """Similarity for d = -log10(FMR)."""
    d = np.asarray(decades, dtype=np.float64)
    return np.clip(np.where(d <= 5.0, 16.0 * d, 80.0 + 19.0 * (d - 5.0)), 0.0, 100.0)


def fmr_for_similarity(similarity: float) -> float:
    """The false-match rate a Similarity threshold stands for (inverse of the mapping)."""
    decades = similarity / 16.0 if similarity <= 80.0 else 5.0 + (similarity - 80.0) / 19.0
    return float(10.0 ** (-decades))


def decades_from_anchors(scores: np.ndarray, anchors: np.ndarray, decades: np.ndarray,
                         top: float = 1.0) -> np.ndarray:
    """d of each score through anchors (the score at each decade of the grid), piecewise
    linear. Past the last anchor the data has no false matches left to count: d rises linearly
    to TOP_DECADES at the highest possible score `top` (a cosine of 1), so two photos of one
    person still rank by how alike they are and only identical vectors reach Similarity 100."""
    return np.interp(np.asarray(scores, np.float64), [*anchors, top], [*decades, TOP_DECADES])
