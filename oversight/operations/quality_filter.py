"""Rekognition's QualityFilter: which detected faces are good enough to index or search.

Judged from a FaceDetail's Confidence, BoundingBox (in pixels), Pose and Quality. The bars are
Oversight's own (Rekognition does not publish its own), chosen so that LOW drops only faces the
embedder cannot use (tiny, profile, nearly black, blurred to mush) and HIGH keeps frontal, sharp,
well-lit faces. AUTO uses the LOW bar. LOW_FACE_QUALITY is not reported: there is no separate
face-quality model yet, and the named reasons cover what the analysis measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Bar:
    confidence: float  # FaceDetail.Confidence, 0-100
    min_side_px: float  # shorter side of the face box
    max_angle: float  # |yaw| and |pitch|, degrees
    brightness: float  # Quality.Brightness, 0-100
    sharpness: float  # Quality.Sharpness, 0-100


_BARS = {
    "LOW": _Bar(confidence=50, min_side_px=20, max_angle=60, brightness=8, sharpness=5),
    "MEDIUM": _Bar(confidence=70, min_side_px=32, max_angle=45, brightness=15, sharpness=15),
    "HIGH": _Bar(confidence=90, min_side_px=48, max_angle=30, brightness=25, sharpness=30),
}
_BARS["AUTO"] = _BARS["LOW"]

# FaceDetail members the filter reads (besides BoundingBox and Confidence, always present).
NEEDED_ATTRIBUTES = frozenset({"Pose", "Quality"})


def quality_reasons(
    detail: dict[str, Any], image_width: int, image_height: int, level: str
) -> list[str]:
    """The reasons a face fails the `level` bar (empty: it passes; NONE passes everything)."""
    bar = _BARS.get(level)
    if bar is None:
        return []
    reasons = []
    box = detail["BoundingBox"]
    if min(box["Width"] * image_width, box["Height"] * image_height) < bar.min_side_px:
        reasons.append("SMALL_BOUNDING_BOX")
    if detail["Confidence"] < bar.confidence:
        reasons.append("LOW_CONFIDENCE")
    pose = detail.get("Pose")
    if pose and max(abs(pose["Yaw"]), abs(pose["Pitch"])) > bar.max_angle:
        reasons.append("EXTREME_POSE")
    measured = detail.get("Quality")
    if measured and measured["Brightness"] < bar.brightness:
        reasons.append("LOW_BRIGHTNESS")
    if measured and measured["Sharpness"] < bar.sharpness:
        reasons.append("LOW_SHARPNESS")
    return reasons
