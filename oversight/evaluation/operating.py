"""Operating points in Rekognition's Similarity (0-100), and pairs scored as a search would.

Metrics run on the Similarity the calibration in force gives each pair (its cosine and, for a
clustered calibration, its two faces' clusters), so a threshold here is the threshold a search
applies.
"""

from __future__ import annotations

import numpy as np

from ..analysis.calibration import DEFAULT_MATCHER, matcher_vectors
from ..analysis.calibrations import active_calibration

# The thresholds the model card explains; 80 is Rekognition's default FaceMatchThreshold.
SIMILARITY_THRESHOLDS: tuple[float, ...] = (80.0, 90.0, 95.0, 99.0)
DEFAULT_SIMILARITY = 80.0


def similarity_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Similarity of every stored vector in `a` (rows) with every one in `b`."""
    calibration = active_calibration(DEFAULT_MATCHER)
    return calibration.similarity_matrix(matcher_vectors(a, DEFAULT_MATCHER),
                                         matcher_vectors(b, DEFAULT_MATCHER))


def pair_similarities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Similarity of each row of `a` with the same row of `b`."""
    calibration = active_calibration(DEFAULT_MATCHER)
    a, b = matcher_vectors(a, DEFAULT_MATCHER), matcher_vectors(b, DEFAULT_MATCHER)
    return np.asarray(calibration.similarity(np.einsum("ij,ij->i", a, b), calibration.clusters(a),
                                             calibration.clusters(b)), float)
