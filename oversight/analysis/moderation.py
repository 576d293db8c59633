"""DetectModerationLabels on Rekognition's three-level moderation taxonomy, from shipped models.

open_nsfw (BSD-2-Clause, always installed) scores nudity and sexual content as one number: the
top-level "Explicit" category. It cannot tell nudity from sexual activity, so on its own no
level-2 label is claimed. With the optional NudeNet extra (AGPL-3.0), body parts add the
levels below: "Explicit > Explicit Nudity > Exposed ...", "Non-Explicit Nudity of Intimate parts
and Kissing > Non-Explicit Nudity > Exposed Male Nipple" and "Swimwear or Underwear > Female
Swimwear or Underwear". A parent's confidence is the highest of its children's (and, for
Explicit, of open_nsfw's). Violence, Visually Disturbing, Drugs & Tobacco, Alcohol, Rude
Gestures, Gambling and Hate Symbols have no shipped model and are never reported
(docs/LABELS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..images import DecodedImage
from ..models.nudenet import NudeNet, nudenet_installed
from ..models.open_nsfw import OpenNsfw

DEFAULT_MIN_CONFIDENCE = 50.0
# Which models answer: the version says whether the optional extra is installed.
MODERATION_MODEL_VERSION = "oversight-open-nsfw-1" + ("+nudenet-3.4" if nudenet_installed() else "")

# NudeNet class -> the taxonomy path (level 1, level 2, level 3) it is evidence for. Feet, belly
# and armpits have no Rekognition label; faces are not moderation content.
_PATHS: dict[str, tuple[str, ...]] = {
    "FEMALE_GENITALIA_EXPOSED": ("Explicit", "Explicit Nudity", "Exposed Female Genitalia"),
    "MALE_GENITALIA_EXPOSED": ("Explicit", "Explicit Nudity", "Exposed Male Genitalia"),
    "BUTTOCKS_EXPOSED": ("Explicit", "Explicit Nudity", "Exposed Buttocks or Anus"),
    "ANUS_EXPOSED": ("Explicit", "Explicit Nudity", "Exposed Buttocks or Anus"),
    "FEMALE_BREAST_EXPOSED": ("Explicit", "Explicit Nudity", "Exposed Female Nipple"),
    "MALE_BREAST_EXPOSED": ("Non-Explicit Nudity of Intimate parts and Kissing",
                            "Non-Explicit Nudity", "Exposed Male Nipple"),
    # NudeNet's "covered" parts are learnt from swimwear and lingerie photos.
    "FEMALE_BREAST_COVERED": ("Swimwear or Underwear", "Female Swimwear or Underwear"),
    "FEMALE_GENITALIA_COVERED": ("Swimwear or Underwear", "Female Swimwear or Underwear"),
}


@dataclass(frozen=True)
class ModerationLabel:
    name: str
    parent: str  # "" at the top level, as Rekognition sends it
    level: int
    confidence: float  # 0-100


# Constructing a model is cheap; its weights load on first call, once, under its lock.
_NSFW = OpenNsfw()
_BODY_PARTS = NudeNet()


def taxonomy_labels(explicit: float, parts: list[tuple[str, float]]) -> list[ModerationLabel]:
    """Every taxonomy node with evidence: open_nsfw's Explicit score (0-100) and body parts
    (NudeNet class, 0-1), each parent at least as confident as its most confident child."""
    best: dict[tuple[str, ...], float] = {("Explicit",): explicit}
    for part, score in parts:
        path = _PATHS.get(part, ())
        for node in (path[:depth] for depth in range(1, len(path) + 1)):
            best[node] = max(best.get(node, 0.0), score * 100.0)
    labels = [ModerationLabel(node[-1], node[-2] if len(node) > 1 else "", len(node), conf)
              for node, conf in best.items()]
    return sorted(labels, key=lambda label: (-label.confidence, label.level))


def moderation_labels(
    image: DecodedImage, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> list[ModerationLabel]:
    """Moderation labels at or above `min_confidence` (0-100), most confident first."""
    parts = _BODY_PARTS(image.bgr) if nudenet_installed() else []
    labels = taxonomy_labels(_NSFW(image.rgb) * 100.0, parts)
    return [label for label in labels if label.confidence >= min_confidence]
