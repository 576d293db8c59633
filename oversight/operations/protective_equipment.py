"""DetectProtectiveEquipment: people, their faces, and whether a mask covers each face.

FACE_COVER is the only equipment type a shipped model detects (analysis/protective_equipment.py);
HEAD and the hands are not reported, and a summary requiring HEAD_COVER or HAND_COVER calls
everyone indeterminate (docs/LABELS.md).
"""

from __future__ import annotations

from typing import Any

from ..analysis.protective_equipment import (
    COVER_THRESHOLD,
    PersonEquipment,
    equipment_on_people,
    summary_status,
)
from ..images import DecodedImage
from . import operation
from .context import RequestContext
from .image_input import request_image
from .unsupported import partly

PROTECTIVE_EQUIPMENT_MODEL_VERSION = "1.0"
_SUMMARY_MEMBERS = {
    "with": "PersonsWithRequiredEquipment",
    "without": "PersonsWithoutRequiredEquipment",
    "indeterminate": "PersonsIndeterminate",
}


def _body_parts(entry: PersonEquipment, image: DecodedImage) -> list[dict[str, Any]]:
    if entry.face is None or entry.face_cover is None:
        return []
    detections = []
    if entry.face_cover >= COVER_THRESHOLD:
        confidence = entry.face_cover * 100.0
        detections.append({
            # The classifier judges the whole face region; it does not outline the mask.
            "BoundingBox": entry.face.bounding_box(image),
            "Confidence": confidence,
            "Type": "FACE_COVER",
            "CoversBodyPart": {"Value": True, "Confidence": confidence},
        })
    return [{
        "Name": "FACE",
        "Confidence": entry.face.score * 100.0,
        "EquipmentDetections": detections,
    }]


partly(
    "DetectProtectiveEquipment",
    "FACE_COVER on FACE only: no model ships for HEAD_COVER or HAND_COVER, so HEAD and hands are "
    "never reported and a summary requiring them calls people indeterminate",
)


@operation("DetectProtectiveEquipment")
def detect_protective_equipment(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    image = request_image(request)
    found = equipment_on_people(image)
    response: dict[str, Any] = {
        "ProtectiveEquipmentModelVersion": PROTECTIVE_EQUIPMENT_MODEL_VERSION,
        "Persons": [
            {
                "Id": index,
                "BoundingBox": image.bounding_box(entry.person.box),
                "Confidence": entry.person.score * 100.0,
                "BodyParts": _body_parts(entry, image),
            }
            for index, entry in enumerate(found)
        ],
    }
    summarize = request.get("SummarizationAttributes")
    if summarize:
        min_confidence = float(summarize["MinConfidence"])
        required = frozenset(summarize["RequiredEquipmentTypes"])
        summary: dict[str, list[int]] = {member: [] for member in _SUMMARY_MEMBERS.values()}
        for index, entry in enumerate(found):
            # Rekognition leaves people below MinConfidence out of the summary altogether.
            if entry.person.score * 100.0 >= min_confidence:
                status = summary_status(entry, required, min_confidence)
                summary[_SUMMARY_MEMBERS[status]].append(index)
        response["Summary"] = summary
    return response
