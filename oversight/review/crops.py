"""The face crops reviewers judge: small JPEGs cut around a face, with some context around it.

Crops are kept only for review (a case's probe until the case closes; a reference crop per
indexed face while review is enabled in the account); docs/ACCOUNTABILITY.md says so.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..images import DecodedImage

# Large enough to judge a face by eye, small enough to keep (about 15-30 KB).
CROP_MAX_SIDE = 320
# Context around the face box, as a share of its size on each side (hair, ears, chin).
MARGIN = 0.35
JPEG_QUALITY = 90


def face_crop(image: DecodedImage, box: dict[str, float]) -> bytes | None:
    """A JPEG of the face at a Rekognition BoundingBox (ratios of the image), or None when the
    box lies outside the image."""
    width, height = image.width, image.height
    left, top = box["Left"] * width, box["Top"] * height
    box_w, box_h = box["Width"] * width, box["Height"] * height
    x0 = int(max(0.0, left - MARGIN * box_w))
    y0 = int(max(0.0, top - MARGIN * box_h))
    x1 = int(min(float(width), left + box_w * (1 + MARGIN)))
    y1 = int(min(float(height), top + box_h * (1 + MARGIN)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop: np.ndarray = image.bgr[y0:y1, x0:x1]
    scale = CROP_MAX_SIDE / max(crop.shape[:2])
    if scale < 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return bytes(encoded) if ok else None
