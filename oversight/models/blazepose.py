"""MediaPipe BlazePose (Apache-2.0): a person detector and a 33-point body landmark model.

Both `.tflite` files ship inside the `mediapipe` wheel (installed --no-deps: its Python code pins
numpy<2) and run on `ai-edge-litert`. The detector finds a person by face and returns four
alignment keypoints (hip centre, a point on the circle around the whole body, shoulder centre,
a point on the circle around the upper body); the landmark model then reads the body inside
that circle. The decoding constants are the ones MediaPipe's pose graph uses for these files.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from ..boxes import iou
from ..config import settings
from .base import Model, package_file
from .crops import rotated_square_crop, to_image

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 33
# SSD anchors of the detector: feature-map strides, two square anchors per cell and layer.
_STRIDES = (8, 16, 32, 32, 32)
# MediaPipe crops the landmark input as a square 1.25x the detector's body circle.
_ROI_SCALE = 1.25
_NMS_IOU = 0.3


def _anchors() -> np.ndarray:
    """Anchor centres (x, y) in 0-1, in the detector's output order."""
    centres = []
    for stride in dict.fromkeys(_STRIDES):
        per_cell = 2 * _STRIDES.count(stride)
        cells = int(np.ceil(DETECTOR_SIZE / stride))
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class PoseCandidate:
    score: float  # 0-1
    face_box: tuple[float, float, float, float]  # x, y, w, h pixels
    keypoints: np.ndarray  # 4 x 2 pixels: hip centre, body circle, shoulders, upper circle


class _MediapipeModel(Model):
    """One `.tflite` file of the mediapipe wheel, run one call at a time (an interpreter's
    tensors are shared state)."""

    _FILE: tuple[str, ...] = ()

    def _load(self) -> None:
        path = package_file("mediapipe", "modules", *self._FILE)
        self._net = Interpreter(model_path=str(path), num_threads=settings().inference_threads)
        self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]["index"]
        self._outputs = {d["name"]: d["index"] for d in self._net.get_output_details()}
        self._lock = threading.Lock()

    def _run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Every output by name, for one input batch."""
        with self._lock:
            self._net.set_tensor(self._input, tensor)
            self._net.invoke()
            return {name: self._net.get_tensor(i).copy() for name, i in self._outputs.items()}


class PoseDetector(_MediapipeModel):
    """RGB image (or a tile of one) -> people found, most confident first."""

    _FILE = ("pose_detection", "pose_detection.tflite")
    _ANCHORS = _anchors()

    def predict(self, rgb: np.ndarray, min_score: float) -> list[PoseCandidate]:
        height, width = rgb.shape[:2]
        # Letterbox: keep the aspect ratio, pad to a square with black.
        scale = DETECTOR_SIZE / max(height, width)
        resized = cv2.resize(
            rgb,
            (max(1, round(width * scale)), max(1, round(height * scale))),
            interpolation=cv2.INTER_AREA,
        )
        pad_x = (DETECTOR_SIZE - resized.shape[1]) // 2
        pad_y = (DETECTOR_SIZE - resized.shape[0]) // 2
        canvas = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.uint8)
        canvas[pad_y : pad_y + resized.shape[0], pad_x : pad_x + resized.shape[1]] = resized
        outputs = self._run((canvas.astype(np.float32) / 127.5 - 1.0)[None])
        raw, logits = outputs["Identity"][0], outputs["Identity_1"][0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        candidates: list[PoseCandidate] = []
        for i in np.argsort(-scores):
            if scores[i] < min_score:
                break
            # Offsets are in input pixels relative to the anchor centre (x, y, w, h, 4 points).
            values = raw[i].reshape(-1, 2) / DETECTOR_SIZE
            points = values + self._ANCHORS[i]
            centre, size = points[0], values[1]
            to_image = np.array([pad_x, pad_y]) / DETECTOR_SIZE
            keypoints = (points[2:6] - to_image) * DETECTOR_SIZE / scale
            cx, cy = (centre - to_image) * DETECTOR_SIZE / scale
            w, h = size * DETECTOR_SIZE / scale
            face = (float(cx - w / 2), float(cy - h / 2), float(w), float(h))
            if candidates and iou(face, [c.face_box for c in candidates]).max() > _NMS_IOU:
                continue
            candidates.append(PoseCandidate(float(scores[i]), face, keypoints))
        return candidates


class PoseLandmarks(_MediapipeModel):
    """RGB image + a detector candidate -> 33 landmarks (pixels), visibility, presence."""

    _FILE = ("pose_landmark", "pose_landmark_full.tflite")

    def predict(
        self, rgb: np.ndarray, candidate: PoseCandidate
    ) -> tuple[np.ndarray, np.ndarray, float]:
        hip, circle = candidate.keypoints[0], candidate.keypoints[1]
        side = 2.0 * float(np.linalg.norm(circle - hip)) * _ROI_SCALE
        if side < 1.0:
            return np.zeros((NUM_LANDMARKS, 2)), np.zeros(NUM_LANDMARKS), 0.0
        # Rotate so the hip -> circle direction points up, as the model was trained.
        direction = circle - hip
        angle = 90.0 + float(np.degrees(np.arctan2(direction[1], direction[0])))
        crop, matrix = rotated_square_crop(rgb, hip, angle, side, LANDMARK_SIZE)
        outputs = self._run((crop.astype(np.float32) / 255.0)[None])
        raw = outputs["Identity"][0].reshape(-1, 5)[:NUM_LANDMARKS]
        presence = float(outputs["Identity_1"].reshape(-1)[0])
        points = to_image(raw, matrix)
        visibility = 1.0 / (1.0 + np.exp(-raw[:, 3]))
        return points, visibility, presence
