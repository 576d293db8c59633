"""The rotated square crops MediaPipe's landmark networks expect, and the way back."""

from __future__ import annotations

import cv2
import numpy as np


def rotated_square_crop(
    rgb: np.ndarray, center: np.ndarray, angle_degrees: float, side: float, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """A `size` x `size` crop of the `side`-pixel square around `center`, turned by
    `angle_degrees` (counter-clockwise, OpenCV's sense); also the 2x3 image-to-crop matrix."""
    cx, cy = float(center[0]), float(center[1])
    matrix = cv2.getRotationMatrix2D((cx, cy), angle_degrees, size / max(side, 1e-6))
    matrix[:, 2] += (size / 2.0 - cx, size / 2.0 - cy)
    crop = cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return crop, matrix


def to_image(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map N x 2 crop coordinates back into the image."""
    inverse = cv2.invertAffineTransform(matrix)
    return np.c_[points[:, :2], np.ones(len(points))] @ inverse.T
