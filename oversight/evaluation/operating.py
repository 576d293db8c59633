"""Operating points in Rekognition's Similarity (0-100) and their cosine equivalents.

Metrics run on cosines (exact, never saturated); thresholds are stated in Similarity, the unit
users set. The calibration is monotone, so Similarity >= s is the same as cosine >= the cosine
found here, and millions of pairs can be thresholded without mapping each one.
"""

from __future__ import annotations

import numpy as np

from ..analysis import similarity_from_cosine

# The thresholds the model card explains; 80 is Rekognition's default FaceMatchThreshold.
SIMILARITY_THRESHOLDS: tuple[float, ...] = (80.0, 90.0, 95.0, 99.0)
DEFAULT_SIMILARITY = 80.0


def cosine_at_similarity(similarity: float) -> float:
    """The smallest cosine whose Similarity is >= `similarity` (bisection: 1e-9 is far below
    any difference an embedding can express); inf when no cosine reaches it."""
    low, high = -1.0, 1.0
    if similarity_from_cosine(high) < similarity:
        return np.inf  # no pair can reach it
    if similarity_from_cosine(low) >= similarity:
        return low
    while high - low > 1e-9:
        middle = (low + high) / 2
        if similarity_from_cosine(middle) >= similarity:
            high = middle
        else:
            low = middle
    return high


def cosine_for_report(cosine: float) -> float | None:
    """A threshold cosine for JSON: rounded, and None where it is unreachable (JSON has no inf)."""
    return round(cosine, 6) if np.isfinite(cosine) else None


def similarities(cosines: np.ndarray) -> np.ndarray:
    """Similarity of each cosine, as an array even for one value."""
    return np.atleast_1d(np.asarray(similarity_from_cosine(np.asarray(cosines, float)), float))
