"""Rekognition's Quality: brightness and sharpness of the face region, 0-100."""

from __future__ import annotations

import cv2
import numpy as np

# Laplacian variance at which a 112-px face crop reads as sharpness 50: in-focus faces in
# phone photos land well above it, motion-blurred or heavily upscaled ones well below.
_SHARPNESS_MIDPOINT = 150.0


def face_crop_gray(bgr: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = box
    height, width = bgr.shape[:2]
    left, top = max(0, int(x)), max(0, int(y))
    right, bottom = min(width, int(x + w)), min(height, int(y + h))
    if right <= left or bottom <= top:
        return np.zeros((112, 112), np.uint8)
    crop = cv2.cvtColor(bgr[top:bottom, left:right], cv2.COLOR_BGR2GRAY)
    return cv2.resize(crop, (112, 112), interpolation=cv2.INTER_AREA)


def brightness(gray: np.ndarray) -> float:
    return float(gray.mean() / 255.0 * 100.0)


def sharpness(gray: np.ndarray) -> float:
    variance = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return 100.0 * variance / (variance + _SHARPNESS_MIDPOINT)

