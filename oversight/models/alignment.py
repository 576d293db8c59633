"""Similarity-transform alignment of a face to a canonical 5-point template."""

from __future__ import annotations

import cv2
import numpy as np

# The standard 112 x 112 five-point template (eyes, nose tip, mouth corners, in image order:
# the subject's right eye appears on the left) used to train ArcFace-family embedders like SFace.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def align_crop(image: np.ndarray, landmarks5: np.ndarray, size: int = 112) -> np.ndarray:
    """Warp `image` so the five landmarks land on the template scaled to `size`."""
    template = TEMPLATE_112 * (size / 112.0)
    matrix, _ = cv2.estimateAffinePartial2D(
        landmarks5.astype(np.float32), template, method=cv2.LMEDS
    )
    if matrix is None:  # degenerate landmarks (all on a line): fall back to least squares
        matrix, _ = cv2.estimateAffinePartial2D(landmarks5.astype(np.float32), template)
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
