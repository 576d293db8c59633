"""DetectText: LINE and WORD detections shaped as Rekognition's TextDetections.

Lines come first (Ids 0..L-1), then their words, each word's ParentId naming its line, as
Rekognition orders them. Filters apply to words (confidence, box size, regions of interest); a
line keeps only its surviving words and disappears with the last of them. At most 100 words are
returned, like Rekognition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shapely.geometry import Polygon, box

from ..errors import InvalidParameterException
from ..images import DecodedImage
from ..models.ocr import OcrLine, OcrWord, Quad, RapidOcr

TEXT_MODEL_VERSION = "oversight-ppocrv6-1"
MAX_WORDS = 100
DEFAULT_MIN_CONFIDENCE = 80.0
# A word belongs to a region of interest when more than half of its area lies inside it.
_ROI_SHARE = 0.5


@dataclass(frozen=True)
class WordFilter:
    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # 0-100
    min_height: float = 0.0  # share of image height
    min_width: float = 0.0  # share of image width


# Constructing a model is cheap; its weights load on first call, once, under its lock.
_OCR = RapidOcr()


def _normalised(quad: Quad, image: DecodedImage) -> list[tuple[float, float]]:
    return [(x / image.width, y / image.height) for x, y in quad]


def _geometry(points: list[tuple[float, float]]) -> dict[str, Any]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return {
        "BoundingBox": {
            "Width": max(xs) - min(xs),
            "Height": max(ys) - min(ys),
            "Left": min(xs),
            "Top": min(ys),
        },
        "Polygon": [{"X": x, "Y": y} for x, y in points],
    }


def _region_polygons(regions: list[dict[str, Any]]) -> list[Polygon]:
    """RegionsOfInterest (BoundingBox or Polygon, image ratios) as shapely polygons."""
    polygons = []
    for region in regions:
        if region.get("Polygon"):
            points = [(p.get("X", 0.0), p.get("Y", 0.0)) for p in region["Polygon"]]
            if len(points) < 3:
                raise InvalidParameterException("A region Polygon needs at least 3 points.")
            polygons.append(Polygon(points).buffer(0))
        elif region.get("BoundingBox"):
            b = region["BoundingBox"]
            left, top = b.get("Left", 0.0), b.get("Top", 0.0)
            polygons.append(box(left, top, left + b.get("Width", 0.0), top + b.get("Height", 0.0)))
        else:
            raise InvalidParameterException("A region of interest needs a BoundingBox or Polygon.")
    return polygons


def _keep(word: OcrWord, image: DecodedImage, rules: WordFilter, regions: list[Polygon]) -> bool:
    points = _normalised(word.quad, image)
    bounds = _geometry(points)["BoundingBox"]
    if (
        word.score * 100.0 < rules.min_confidence
        or bounds["Height"] < rules.min_height
        or bounds["Width"] < rules.min_width
    ):
        return False
    if not regions:
        return True
    shape = Polygon(points).buffer(0)
    if shape.area == 0:
        return False
    return any(shape.intersection(region).area > _ROI_SHARE * shape.area for region in regions)


def _line_entry(
    line: OcrLine, words: list[OcrWord], image: DecodedImage, line_id: int
) -> dict[str, Any]:
    text = line.text if len(words) == len(line.words) else " ".join(w.text for w in words)
    return {
        "DetectedText": text,
        "Type": "LINE",
        "Id": line_id,
        "Confidence": line.score * 100.0,
        "Geometry": _geometry(_normalised(line.quad, image)),
    }


def detect_text(
    image: DecodedImage,
    rules: WordFilter | None = None,
    regions: list[dict[str, Any]] | None = None,
    max_words: int = MAX_WORDS,
) -> list[dict[str, Any]]:
    """Rekognition's TextDetections for the image (evaluation lifts `max_words`)."""
    rules = rules or WordFilter()
    polygons = _region_polygons(regions or [])
    kept: list[tuple[OcrLine, list[OcrWord]]] = []
    budget = max_words
    for line in _OCR(image.bgr):
        words = [w for w in line.words if _keep(w, image, rules, polygons)][:budget]
        if words:
            kept.append((line, words))
            budget -= len(words)
        if budget == 0:
            break
    lines = [_line_entry(line, words, image, i) for i, (line, words) in enumerate(kept)]
    word_entries = []
    for parent, (_, words) in enumerate(kept):
        for word in words:
            word_entries.append(
                {
                    "DetectedText": word.text,
                    "Type": "WORD",
                    "Id": len(lines) + len(word_entries),
                    "ParentId": parent,
                    "Confidence": word.score * 100.0,
                    "Geometry": _geometry(_normalised(word.quad, image)),
                }
            )
    return lines + word_entries
