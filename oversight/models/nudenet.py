"""NudeNet body-part detector (YOLOv8n, 320 px), an optional extra: `pip install
'oversight[nudity]'`.

Its wheel carries AGPL-3.0 licence files (its metadata says MIT), so it is never a default
dependency; without it moderation answers from open_nsfw alone. NudeNet's own class runs the
model (its letterbox and YOLO decoding are part of what was trained and published together).
"""

from __future__ import annotations

import importlib.util

import numpy as np

from .base import Model, ModelUnavailable


def nudenet_installed() -> bool:
    return importlib.util.find_spec("nudenet") is not None


class NudeNet(Model):
    """Image -> (NudeNet class, score 0-1) per body part found."""

    def _load(self) -> None:
        if not nudenet_installed():
            raise ModelUnavailable("install the optional extra: pip install 'oversight[nudity]'")
        from nudenet import NudeDetector

        self._detector = NudeDetector()

    def predict(self, bgr: np.ndarray) -> list[tuple[str, float]]:
        """Body parts in a BGR image (the channel order NudeNet reads files in)."""
        found = self._detector.detect(bgr)
        return [(str(part["class"]), float(part["score"])) for part in found]
