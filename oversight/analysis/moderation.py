"""DetectModerationLabels on Rekognition's moderation taxonomy, from the models that ship.

Only open_nsfw ships with a licence compatible with Apache-2.0, and it answers one question:
does the image show nudity or sexual content. That is Rekognition's top-level "Explicit"
category; it cannot tell nudity from sexual activity, so no level-2 label is claimed. Every other
category (Non-Explicit Nudity, Swimwear or Underwear, Violence, Visually Disturbing, Drugs &
Tobacco, Alcohol, Rude Gestures, Gambling, Hate Symbols) has no shipped model and is never
reported (docs/LABELS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..images import DecodedImage
from ..models.open_nsfw import OpenNsfw

MODERATION_MODEL_VERSION = "oversight-open-nsfw-1"
DEFAULT_MIN_CONFIDENCE = 50.0


@dataclass(frozen=True)
class ModerationLabel:
    name: str
    parent: str  # "" at the top level, as Rekognition sends it
    level: int
    confidence: float  # 0-100


# Constructing a model is cheap; its weights load on first call, once, under its lock.
_MODEL = OpenNsfw()


def moderation_labels(
    image: DecodedImage, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> list[ModerationLabel]:
    """Moderation labels at or above `min_confidence` (0-100), most confident first."""
    explicit = _MODEL(image.rgb) * 100.0
    labels = [ModerationLabel("Explicit", "", 1, explicit)]
    return [label for label in labels if label.confidence >= min_confidence]
