"""1:N (open-set) identification metrics, as NIST FRVT's identification reports define them.

`scores[p, i]` is probe p's best score against enrolled identity i (-inf when the probe had no
face to search with); `mates[p]` is the column of probe p's enrolled identity, or -1 when the
person is not enrolled at all.
"""

from __future__ import annotations

import numpy as np

from .rate import Rate


def _top(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[1] == 0:
        return np.full(scores.shape[0], -1), np.full(scores.shape[0], -np.inf)
    best = np.argmax(scores, axis=1)
    return best, scores[np.arange(scores.shape[0]), best]


def rank1(scores: np.ndarray, mates: np.ndarray) -> Rate:
    """Mated searches whose top candidate is the right person, whatever its score."""
    mated = np.asarray(mates) >= 0
    best, top = _top(scores)
    hit = (best == mates) & np.isfinite(top)
    return Rate(int(np.count_nonzero(hit & mated)), int(np.count_nonzero(mated)))


def fnir(scores: np.ndarray, mates: np.ndarray, threshold: float) -> Rate:
    """False negative identification: the mate is not the top candidate at >= threshold."""
    mated = np.asarray(mates) >= 0
    best, top = _top(scores)
    found = (best == mates) & (top >= threshold)
    return Rate(int(np.count_nonzero(mated & ~found)), int(np.count_nonzero(mated)))


def fpir(scores: np.ndarray, mates: np.ndarray, threshold: float) -> Rate:
    """False positive identification: a person who is not enrolled gets any candidate."""
    non_mated = np.asarray(mates) < 0
    _, top = _top(scores)
    return Rate(int(np.count_nonzero(non_mated & (top >= threshold))),
                int(np.count_nonzero(non_mated)))
