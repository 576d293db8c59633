"""DetectProtectiveEquipment: face covers on real photos, and the summary's verdicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from oversight import operations
from oversight.analysis.faces import DetectedFace
from oversight.analysis.people import DetectedPerson
from oversight.analysis.protective_equipment import PersonEquipment, summary_status
from tests.conftest import shared_path

MASKED = "faces/insightface/cpp-package/inspireface/test_res/data/bulk/mask2.jpg"
BARE = "faces/face-api.js/examples/images/happy.jpg"


def _detect(relative: str, required: list[str] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"Image": {"Bytes": shared_path(relative).read_bytes()}}
    if required is not None:
        request["SummarizationAttributes"] = {
            "MinConfidence": 50, "RequiredEquipmentTypes": required,
        }
    return operations.call("DetectProtectiveEquipment", request)


def _face_part(person: dict[str, Any]) -> dict[str, Any]:
    (part,) = person["BodyParts"]  # HEAD and hands have no model: never reported
    assert part["Name"] == "FACE" and part["Confidence"] > 50
    return part


def test_masked_face_is_covered() -> None:
    response = _detect(MASKED, ["FACE_COVER"])
    person = response["Persons"][0]
    assert person["Confidence"] > 50 and person["Id"] == 0
    (cover,) = _face_part(person)["EquipmentDetections"]
    assert cover["Type"] == "FACE_COVER"
    assert cover["CoversBodyPart"]["Value"] is True and cover["Confidence"] > 60
    # The cover's box is the face region, inside the person's box.
    box, body = cover["BoundingBox"], person["BoundingBox"]
    assert body["Left"] <= box["Left"] and body["Top"] <= box["Top"]
    assert box["Top"] + box["Height"] <= body["Top"] + body["Height"]
    assert 0 in response["Summary"]["PersonsWithRequiredEquipment"]
    assert response["ProtectiveEquipmentModelVersion"]


def test_bare_face_is_without_a_cover() -> None:
    response = _detect(BARE, ["FACE_COVER"])
    person = response["Persons"][0]
    assert _face_part(person)["EquipmentDetections"] == []
    assert response["Summary"]["PersonsWithoutRequiredEquipment"] == [0]


def test_equipment_without_a_model_is_indeterminate() -> None:
    summary = _detect(MASKED, ["FACE_COVER", "HEAD_COVER"])["Summary"]
    assert summary["PersonsWithRequiredEquipment"] == []
    assert 0 in summary["PersonsIndeterminate"]
    assert "Summary" not in _detect(MASKED)  # asked for no summary


def _entry(face_score: float | None, cover: float | None) -> PersonEquipment:
    face = None
    if face_score is not None:
        face = DetectedFace((10.0, 10.0, 40.0, 50.0), face_score, np.zeros((5, 2), np.float32))
    return PersonEquipment(DetectedPerson((0.0, 0.0, 100.0, 200.0), 0.9), face, cover)


@pytest.mark.parametrize(
    ("face_score", "cover", "required", "expected"),
    [
        (0.9, 0.95, {"FACE_COVER"}, "with"),
        (0.9, 0.05, {"FACE_COVER"}, "without"),
        (0.9, 0.05, {"FACE_COVER", "HAND_COVER"}, "without"),  # one missing item decides
        (0.9, 0.95, {"FACE_COVER", "HAND_COVER"}, "indeterminate"),
        (None, None, {"FACE_COVER"}, "indeterminate"),  # no face seen
        (0.3, 0.95, {"FACE_COVER"}, "indeterminate"),  # face below MinConfidence
        (0.9, 0.6, {"FACE_COVER"}, "indeterminate"),  # reading below MinConfidence
        (None, None, set(), "with"),
    ],
)
def test_summary_verdicts(
    face_score: float | None, cover: float | None, required: set[str], expected: str
) -> None:
    assert summary_status(_entry(face_score, cover), frozenset(required), 70.0) == expected
