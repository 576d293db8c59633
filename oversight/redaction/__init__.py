"""Face redaction: blur or pixelate every face the detector finds, optionally sparing some.

A redacted image is checked by running the detector on the output: any face it still finds
(that is not a spared one) is redacted again, harder, until none is left or the region is filled
flat. Video frames get one pass each (see video.py) with the previous frame's boxes added, so a
face the detector misses for one frame stays covered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..analysis import DetectedFace, face_analyzer
from ..errors import InvalidParameterException
from ..images import DecodedImage, from_array

METHODS = ("BLUR", "PIXELATE")
# Faces are widened by this fraction on each side: hairline, ears and chin identify too.
MARGIN = 0.25
# Re-detection passes after the first: blur/pixelate harder, then fill the region flat.
_EXTRA_PASSES = 2

Box = tuple[int, int, int, int]  # x, y, w, h in pixels, clipped to the image


@dataclass(frozen=True)
class Spared:
    face_id: str
    similarity: float


# Decides whether a detected face is spared (e.g. it matches a consenting staff collection).
SpareRule = Callable[[DecodedImage, DetectedFace], Spared | None]


@dataclass(frozen=True)
class Region:
    box: Box
    confidence: float
    spared: Spared | None = None


@dataclass(frozen=True)
class Redaction:
    rgb: np.ndarray
    regions: list[Region]


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidParameterException(f"Method must be one of {', '.join(METHODS)}")
    return method


def widened(box: tuple[float, float, float, float], width: int, height: int) -> Box:
    """The face box grown by MARGIN on each side, clipped to the image."""
    x, y, w, h = box
    left, top = max(0, int(x - MARGIN * w)), max(0, int(y - MARGIN * h))
    right = min(width, int(np.ceil(x + w * (1 + MARGIN))))
    bottom = min(height, int(np.ceil(y + h * (1 + MARGIN))))
    return left, top, max(0, right - left), max(0, bottom - top)


def obscure(rgb: np.ndarray, boxes: Sequence[Box], method: str, strength: int = 1) -> None:
    """Blur or pixelate `boxes` of `rgb` in place; `strength` above 2 fills them flat."""
    for x, y, w, h in boxes:
        if w < 2 or h < 2:
            continue
        patch = rgb[y : y + h, x : x + w]
        if strength > 2:
            patch[:] = patch.reshape(-1, 3).mean(axis=0).astype(np.uint8)
            continue
        # Shrinking to a few cells across the face destroys identity at a cost independent of
        # the face size (a plain Gaussian blur that strong needs a kernel half the face wide).
        cells = (6 if method == "PIXELATE" else 8) // strength
        small = cv2.resize(
            patch, (cells, max(1, round(cells * h / w))), interpolation=cv2.INTER_AREA
        )
        if method == "PIXELATE":
            patch[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        else:
            smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
            kernel = min(31, max(3, w // 8)) | 1
            patch[:] = cv2.GaussianBlur(smooth, (kernel, kernel), 0)


def _inside(face: DetectedFace, boxes: Sequence[Box]) -> bool:
    cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
    return any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in boxes)


def plan(image: DecodedImage, spare: SpareRule | None = None) -> list[Region]:
    """Every detected face of `image`, widened, with the spare decision made."""
    regions = []
    for face in face_analyzer().detect(image):
        box = widened(face.box, image.width, image.height)
        regions.append(Region(box, face.score * 100.0, spare(image, face) if spare else None))
    return regions


def redact_image(
    image: DecodedImage, method: str = "BLUR", spare: SpareRule | None = None
) -> Redaction:
    """Redact every unspared face and verify by detecting again on the result."""
    check_method(method)
    regions = plan(image, spare)
    kept = [r.box for r in regions if r.spared]
    rgb = image.rgb.copy()
    obscure(rgb, [r.box for r in regions if not r.spared], method)
    for strength in range(2, 2 + _EXTRA_PASSES):
        left = [
            widened(face.box, image.width, image.height)
            for face in face_analyzer().detect(from_array(rgb))
            if not _inside(face, kept)
        ]
        if not left:
            break
        obscure(rgb, left, method, strength)
    return Redaction(rgb, regions)
