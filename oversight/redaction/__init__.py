"""Face redaction: blur or pixelate every face the detector finds, optionally sparing some.

A redacted image is checked by running the detector on the output: any face it still finds
(that is not a spared one) is redacted again, harder, until none is left or the region is filled
flat. Video frames get the same treatment (see video.py), each also covering the previous frame's
faces, so a face the detector misses for one frame stays covered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..analysis import DetectedFace, face_analyzer
from ..errors import InvalidParameterException
from ..images import DecodedImage, decode_image, from_array
from ..models.yunet import YuNet

METHODS = ("BLUR", "PIXELATE")
# Redaction keeps detections down to this score (the analyzer's own cut is 0.5).
RECALL_SCORE = 0.3
# Faces are widened by this fraction on each side: hairline, ears and chin identify too.
MARGIN = 0.25
# Re-detection passes after the first: blur/pixelate harder, then fill the regions flat.
_EXTRA_PASSES = 3
_FILL = 3

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
    # The delivered bytes, when an encoder was given (what the last check ran on).
    encoded: bytes | None = None


Encoder = Callable[[np.ndarray], bytes]


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
    """Blur or pixelate `boxes` of `rgb` in place; `strength` _FILL fills them flat."""
    for x, y, w, h in boxes:
        if w < 2 or h < 2:
            continue
        patch = rgb[y : y + h, x : x + w]
        if strength >= _FILL:
            patch[:] = patch.reshape(-1, 3).mean(axis=0).astype(np.uint8)
            continue
        # Shrinking to a few cells across the face destroys identity at a cost independent of
        # the face size (a plain Gaussian blur that strong needs a kernel half the face wide).
        # Small faces get fewer cells: six 3-pixel cells still look like a face to a detector.
        cells = max(1, max(2, min(6 if method == "PIXELATE" else 8, w // 8)) // strength)
        small = cv2.resize(
            patch, (cells, max(1, round(cells * h / w))), interpolation=cv2.INTER_AREA
        )
        if method == "PIXELATE":
            patch[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        else:
            smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
            kernel = min(31, max(3, w // 8)) | 1
            patch[:] = cv2.GaussianBlur(smooth, (kernel, kernel), 0)


def _inside(box: Sequence[float], boxes: Sequence[Box]) -> bool:
    """Whether the centre of `box` lies in one of `boxes`."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in boxes)


class _RecallYuNet(YuNet):
    """The face detector keeping faces down to RECALL_SCORE: for redaction a missed face is
    exposed, while a false one only costs a blurred patch of background."""

    def _load(self) -> None:
        super()._load()
        self._detector.setScoreThreshold(RECALL_SCORE)


_recall_detector = _RecallYuNet()


def _recall_faces(image: DecodedImage) -> list[tuple[Box, float]]:
    """(widened box, score) of every face the recall detector finds."""
    return [
        (widened(tuple(map(float, row[:4])), image.width, image.height), float(row[14]))
        for row in _recall_detector(image.bgr)
        if row[2] > 0 and row[3] > 0
    ]


def plan(image: DecodedImage, spare: SpareRule | None = None) -> list[Region]:
    """Every face of `image`, widened, with the spare decision made for the confident ones
    (only those are embedded; faint faces are always redacted)."""
    regions = []
    # Without a spare rule the recall pass alone finds every face (it is the same model).
    for face in face_analyzer().detect(image) if spare else []:
        box = widened(face.box, image.width, image.height)
        regions.append(Region(box, face.score * 100.0, spare(image, face)))
    for box, score in _recall_faces(image):
        if not _inside(box, [r.box for r in regions]):
            regions.append(Region(box, score * 100.0))
    return regions


def redact_image(
    image: DecodedImage,
    method: str = "BLUR",
    spare: SpareRule | None = None,
    encode: Encoder | None = None,
    extra: Sequence[Box] = (),
) -> Redaction:
    """Redact every unspared face (and the `extra` boxes), then detect again on what would be
    delivered (`encode`d, when given, since compression can bring a face back) and redact what
    is still found, harder each time."""
    check_method(method)
    regions = plan(image, spare)
    kept = [r.box for r in regions if r.spared]
    rgb = image.rgb.copy()
    obscure(rgb, [r.box for r in regions if not r.spared] + list(extra), method)
    encoded = encode(rgb) if encode else None
    for strength in range(2, 2 + _EXTRA_PASSES):
        seen = decode_image(encoded, max_bytes=len(encoded)) if encoded else from_array(rgb)
        left = [box for box, _ in _recall_faces(seen) if not _inside(box, kept)]
        if not left:
            break
        obscure(rgb, left, method, min(strength, _FILL))
        encoded = encode(rgb) if encode else None
    return Redaction(rgb, regions, encoded)
