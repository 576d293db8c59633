"""DetectLabels, DetectText and DetectModerationLabels (each handler is named after its
operation; the analysis it runs is reached through its module)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..analysis import labels as label_analysis
from ..analysis import text as text_analysis
from ..analysis.image_properties import (
    DEFAULT_MAX_DOMINANT_COLORS,
    box_colors,
    image_properties,
)
from ..analysis.labels import LABEL_MODEL_VERSION, DetectedLabel
from ..analysis.moderation import (
    DEFAULT_MIN_CONFIDENCE as MODERATION_MIN_CONFIDENCE,
)
from ..analysis.moderation import MODERATION_MODEL_VERSION, moderation_labels
from ..analysis.text import DEFAULT_MIN_CONFIDENCE as TEXT_MIN_CONFIDENCE
from ..analysis.text import TEXT_MODEL_VERSION, WordFilter
from ..errors import InvalidParameterException
from . import operation
from .context import RequestContext
from .image_input import request_image
from .unsupported import partly

partly(
    "DetectModerationLabels",
    "ContentTypes is left out: no shipped model tells animated or illustrated content from "
    "photographs; only nudity and swimwear/underwear labels have a model (docs/LABELS.md)",
)

# DominantColors of an instance's BoundingBox.
InstanceColors = Callable[[dict[str, float]], list[dict[str, Any]]]
# Rekognition's default: labels under 55 % confidence are not returned.
DEFAULT_LABEL_MIN_CONFIDENCE = 55.0


def _label_shape(label: DetectedLabel, colors: InstanceColors | None) -> dict[str, Any]:
    """Rekognition's Label; `colors` gives each instance its DominantColors (IMAGE_PROPERTIES)."""
    instances = [{"BoundingBox": b, "Confidence": c} for b, c in label.instances]
    if colors is not None:
        for instance in instances:
            instance["DominantColors"] = colors(instance["BoundingBox"])
    return {
        "Name": label.name,
        "Confidence": label.confidence,
        "Instances": instances,
        "Parents": [{"Name": name} for name in label.parents],
        "Aliases": [{"Name": name} for name in label.aliases],
        "Categories": [{"Name": name} for name in label.categories],
    }


def _passes(label: DetectedLabel, general: dict[str, Any]) -> bool:
    """Rekognition's GeneralLabels filters: inclusions narrow, exclusions remove."""
    categories = set(label.categories)
    if general.get("LabelInclusionFilters") and label.name not in general["LabelInclusionFilters"]:
        return False
    if label.name in general.get("LabelExclusionFilters", []):
        return False
    if general.get("LabelCategoryInclusionFilters") and not categories & set(
        general["LabelCategoryInclusionFilters"]
    ):
        return False
    return not categories & set(general.get("LabelCategoryExclusionFilters", []))


@operation("DetectLabels")
def detect_labels(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    image = request_image(request)
    features = request.get("Features") or ["GENERAL_LABELS"]
    settings = request.get("Settings") or {}
    max_colors = (settings.get("ImageProperties") or {}).get(
        "MaxDominantColors", DEFAULT_MAX_DOMINANT_COLORS)
    colors: InstanceColors | None = None
    if "IMAGE_PROPERTIES" in features:
        colors = partial(box_colors, image.rgb, max_colors=max_colors)
    response: dict[str, Any] = {"LabelModelVersion": LABEL_MODEL_VERSION}
    if "GENERAL_LABELS" in features:
        min_confidence = request.get("MinConfidence", DEFAULT_LABEL_MIN_CONFIDENCE)
        general = settings.get("GeneralLabels") or {}
        labels = [
            _label_shape(label, colors)
            for label in label_analysis.detect_labels(image)
            if label.confidence >= min_confidence and _passes(label, general)
        ]
        if "MaxLabels" in request:
            labels = labels[: request["MaxLabels"]]
        response["Labels"] = labels
    elif "GeneralLabels" in settings:
        raise InvalidParameterException(
            "Settings.GeneralLabels requires GENERAL_LABELS in Features."
        )
    if "IMAGE_PROPERTIES" in features:
        response["ImageProperties"] = image_properties(image.rgb, max_colors)
    elif "ImageProperties" in settings:
        raise InvalidParameterException(
            "Settings.ImageProperties requires IMAGE_PROPERTIES in Features."
        )
    return response


@operation("DetectText")
def detect_text(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    image = request_image(request)
    filters = request.get("Filters") or {}
    word = filters.get("WordFilter") or {}
    rules = WordFilter(
        min_confidence=word.get("MinConfidence", TEXT_MIN_CONFIDENCE),
        min_height=word.get("MinBoundingBoxHeight", 0.0),
        min_width=word.get("MinBoundingBoxWidth", 0.0),
    )
    detections = text_analysis.detect_text(image, rules, filters.get("RegionsOfInterest") or [])
    return {"TextDetections": detections, "TextModelVersion": TEXT_MODEL_VERSION}


@operation("DetectModerationLabels")
def detect_moderation_labels(
    request: dict[str, Any], ctx: RequestContext
) -> dict[str, Any]:
    image = request_image(request)
    if request.get("ProjectVersion"):
        raise InvalidParameterException(
            "Custom moderation adapters (ProjectVersion) are not supported by Oversight."
        )
    if request.get("HumanLoopConfig"):
        raise InvalidParameterException(
            "Human review loops (HumanLoopConfig) are not supported by Oversight."
        )
    min_confidence = request.get("MinConfidence", MODERATION_MIN_CONFIDENCE)
    labels = moderation_labels(image, min_confidence)
    return {
        "ModerationLabels": [
            {
                "Name": lb.name,
                "ParentName": lb.parent,
                "TaxonomyLevel": lb.level,
                "Confidence": lb.confidence,
            }
            for lb in labels
        ],
        "ModerationModelVersion": MODERATION_MODEL_VERSION,
    }
