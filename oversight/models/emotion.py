"""Facial expression classifiers from `facex` (MIT) and `fer` (mini-Xception, MIT), averaged.

Both `.tflite` files run on LiteRT; only the files are used (the packages' Python code needs
TensorFlow). Each network was trained on faces found by OpenCV's frontal Haar cascade, so each
is fed the square that cascade would have drawn. Measured on 200 LFW faces, that square has a
side of 0.93 YuNet box heights and its centre 0.03 heights above the box centre; `fer` adds 10
pixels on every side of it, as its package does. facex is brittle about that square (one pixel
more side turned a sad Yale face from SAD 0.81 into ANGRY 0.97), so each network reads the
square at 0.9, 1 and 1.1 times its side and the readings are averaged. Seven expressions come
out; Rekognition's CONFUSED has no class in either network, so it is never reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from ..config import settings
from .base import Model, package_file

# Rekognition's EmotionName values the networks give, in the order of every returned vector.
EMOTION_TYPES = ("HAPPY", "SAD", "ANGRY", "DISGUSTED", "SURPRISED", "CALM", "FEAR")
# EmotionName values no shipped network has a class for (UNKNOWN is not an expression).
NOT_MEASURED = ("CONFUSED",)
# The Haar-cascade square in units of the YuNet box height (see the module docstring).
_HAAR_SIDE = 0.93
_HAAR_RAISE = 0.03
# Each network's reading is the mean over these multiples of the square's side.
_SCALES = (0.9, 1.0, 1.1)


@dataclass(frozen=True)
class _Spec:
    package: str
    path: tuple[str, ...]
    size: int
    margin_pixels: int  # added around the Haar square on every side
    classes: tuple[str, ...]  # Rekognition type of each output, in output order
    to_input: Callable[[np.ndarray], np.ndarray]  # size x size grey 0..1 -> input tensor


NETWORKS = {
    # anger, disgust, fear, happy, neutral, sadness, surprised; grey copied to 3 channels
    "facex": _Spec(
        "facex", ("assets", "model_optimized.tflite"), 200, 0,
        ("ANGRY", "DISGUSTED", "FEAR", "HAPPY", "CALM", "SAD", "SURPRISED"),
        lambda grey: np.repeat(grey[None, :, :, None], 3, axis=3),
    ),
    # angry, disgust, fear, happy, sad, surprise, neutral; grey scaled to -1..1
    "fer": _Spec(
        "fer", ("data", "emotion_model_quantized.tflite"), 64, 10,
        ("ANGRY", "DISGUSTED", "FEAR", "HAPPY", "SAD", "SURPRISED", "CALM"),
        lambda grey: ((grey - 0.5) * 2.0)[None, :, :, None],
    ),
}


def haar_square(box: tuple[float, float, float, float]) -> tuple[float, float, float]:
    """Centre x, centre y and side of the Haar-cascade square for a YuNet box."""
    x, y, w, h = box
    return x + w / 2.0, y + h / 2.0 - _HAAR_RAISE * h, _HAAR_SIDE * h


class _Network:
    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        path = package_file(spec.package, *spec.path)
        self._interpreter = Interpreter(
            model_path=str(path), num_threads=settings().inference_threads
        )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        # Rekognition's order of this network's outputs.
        self._order = [spec.classes.index(name) for name in EMOTION_TYPES]
        # A TFLite interpreter holds its tensors in place: one call at a time.
        self._lock = threading.Lock()

    def __call__(self, grey: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        cx, cy, side = haar_square(box)
        scores = np.mean([self._read(grey, cx, cy, side * scale) for scale in _SCALES], axis=0)
        return scores[self._order] / max(float(scores.sum()), 1e-9)

    def _read(self, grey: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
        side_pixels = max(int(round(side)) + 2 * self.spec.margin_pixels, 1)
        # Cut the square at full resolution (edge pixels repeated past the image border),
        # then shrink it with area averaging as the packages' resize does.
        shift = np.float32([[1, 0, side_pixels / 2 - cx], [0, 1, side_pixels / 2 - cy]])
        square = cv2.warpAffine(
            grey, shift, (side_pixels, side_pixels), borderMode=cv2.BORDER_REPLICATE
        )
        size = self.spec.size
        crop = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
        tensor = self.spec.to_input(crop.astype(np.float32) / 255.0).astype(np.float32)
        with self._lock:
            self._interpreter.set_tensor(self._input, np.ascontiguousarray(tensor))
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output)[0].astype(np.float64)


class EmotionClassifier(Model):
    """Grey image + YuNet face box -> probabilities over EMOTION_TYPES."""

    def _load(self) -> None:
        self._networks = {name: _Network(spec) for name, spec in NETWORKS.items()}

    def by_network(
        self, grey: np.ndarray, box: tuple[float, float, float, float]
    ) -> dict[str, np.ndarray]:
        """Each network's probabilities, for the evaluation that compares them."""
        self.load()
        return {name: network(grey, box) for name, network in self._networks.items()}

    def predict(self, grey: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The mean of both networks (it read more expressions right than either, see the
        model card's expression section)."""
        return np.mean(list(self.by_network(grey, box).values()), axis=0)
