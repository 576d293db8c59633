"""What the analyse page draws: the upright upload as a data: URL and the response's boxes.

Rekognition's boxes are ratios of the upright image (EXIF orientation applied), so the upload is
decoded the way operations decode it and re-encoded without EXIF: the browser then shows exactly
the pixels the boxes refer to.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2

from ..images import decode_image

# Large enough to see a face, small enough to keep the page light; boxes are ratios anyway.
_DISPLAY_MAX_SIDE = 1024
_JPEG_QUALITY = 85


@dataclass(frozen=True)
class DisplayImage:
    data_url: str
    width: int
    height: int


@dataclass(frozen=True)
class Box:
    """A labelled box in ratios of the image's width and height (Rekognition's BoundingBox)."""

    label: str
    left: float
    top: float
    width: float
    height: float

    @classmethod
    def of(cls, label: str, box: dict[str, Any]) -> Box:
        return cls(
            label,
            box.get("Left", 0.0),
            box.get("Top", 0.0),
            box.get("Width", 0.0),
            box.get("Height", 0.0),
        )


def display_image(data: bytes) -> DisplayImage:
    """The upload, upright and at most `_DISPLAY_MAX_SIDE` pixels a side, as a JPEG data: URL."""
    image = decode_image(data)
    scale = min(1.0, _DISPLAY_MAX_SIDE / max(image.width, image.height))
    bgr = image.bgr
    if scale < 1.0:
        size = (round(image.width * scale), round(image.height * scale))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    _, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    return DisplayImage(
        data_url="data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode(),
        width=int(bgr.shape[1]),
        height=int(bgr.shape[0]),
    )


def _faces(response: dict[str, Any]) -> list[Box]:
    return [
        Box.of(f"face {number} ({face.get('Confidence', 0):.0f}%)", face["BoundingBox"])
        for number, face in enumerate(response.get("FaceDetails", []), start=1)
        if "BoundingBox" in face
    ]


def _labels(response: dict[str, Any]) -> list[Box]:
    return [
        Box.of(f"{label['Name']} ({instance.get('Confidence', 0):.0f}%)", instance["BoundingBox"])
        for label in response.get("Labels", [])
        for instance in label.get("Instances", [])
        if "BoundingBox" in instance
    ]


def _text(response: dict[str, Any]) -> list[Box]:
    # Lines only: their words would draw the same text twice.
    return [
        Box.of(text["DetectedText"], text["Geometry"]["BoundingBox"])
        for text in response.get("TextDetections", [])
        if text.get("Type") == "LINE" and "Geometry" in text
    ]


def _searched_face(response: dict[str, Any]) -> list[Box]:
    box = response.get("SearchedFaceBoundingBox")
    if box is None:
        return []
    matches = response.get("FaceMatches", [])
    label = f"best match {matches[0]['Similarity']:.1f}" if matches else "no match"
    return [Box.of(label, box)]


BOXES: dict[str, Callable[[dict[str, Any]], list[Box]]] = {
    "DetectFaces": _faces,
    "DetectLabels": _labels,
    "DetectText": _text,
    "SearchFacesByImage": _searched_face,
}
