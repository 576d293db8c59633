"""RedactFaces and `oversight redact`: the detector finds no face in what they write."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from oversight.analysis import face_analyzer
from oversight.errors import (
    InvalidImageFormatException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from oversight.governance.audit import AuditLog
from oversight.images import decode_image, from_array, load_image
from oversight.operations import call
from oversight.redaction.video import redact_video
from tests.conftest import shared_path

GROUP = "faces/face-api.js/examples/images/bbt4.jpg"
VIDEO = "video/face-api-js-faces.mp4"


def _faces(data: bytes) -> list:
    return face_analyzer().detect(decode_image(data))


@pytest.mark.parametrize("method", ["BLUR", "PIXELATE"])
def test_redacted_image_has_no_detectable_face(method: str) -> None:
    original = shared_path(GROUP).read_bytes()
    before = _faces(original)
    assert len(before) >= 4
    response = call("RedactFaces", {"Image": {"Bytes": original}, "Method": method})
    assert len(response["RedactedFaces"]) >= len(before)  # the recall pass may find more
    assert response["SparedFaces"] == []
    redacted = decode_image(response["Image"]["Bytes"])
    assert (redacted.width, redacted.height) == load_image(shared_path(GROUP)).rgb.shape[1::-1]
    assert face_analyzer().detect(redacted) == []


def test_faces_matching_the_spare_collection_stay_visible() -> None:
    original = shared_path(GROUP).read_bytes()
    call("CreateCollection", {"CollectionId": "consenting-staff"})
    indexed = call("IndexFaces", {
        "CollectionId": "consenting-staff", "Image": {"Bytes": original}, "MaxFaces": 1,
    })
    staff_id = indexed["FaceRecords"][0]["Face"]["FaceId"]
    response = call("RedactFaces", {
        "Image": {"Bytes": original}, "SpareCollectionId": "consenting-staff",
    })
    (spared,) = response["SparedFaces"]
    assert spared["FaceId"] == staff_id and spared["Similarity"] >= 90
    assert len(response["RedactedFaces"]) >= len(_faces(original)) - 1
    # Exactly the spared face is still found, where it was.
    (left,) = _faces(response["Image"]["Bytes"])
    image = decode_image(original)
    box = spared["BoundingBox"]
    cx = (left.box[0] + left.box[2] / 2) / image.width
    cy = (left.box[1] + left.box[3] / 2) / image.height
    assert box["Left"] <= cx <= box["Left"] + box["Width"]
    assert box["Top"] <= cy <= box["Top"] + box["Height"]


def test_max_spared_faces_caps_what_is_spared() -> None:
    """Sparing reveals matches; MaxSparedFaces (which a policy's max_faces requires) bounds them
    per image, and the faces beyond are redacted."""
    original = shared_path(GROUP).read_bytes()
    call("CreateCollection", {"CollectionId": "two-staff"})
    call("IndexFaces", {"CollectionId": "two-staff", "Image": {"Bytes": original}, "MaxFaces": 2})
    request = {"Image": {"Bytes": original}, "SpareCollectionId": "two-staff"}
    assert len(call("RedactFaces", request)["SparedFaces"]) == 2
    capped = call("RedactFaces", {**request, "MaxSparedFaces": 1})
    assert len(capped["SparedFaces"]) == 1
    assert len(_faces(capped["Image"]["Bytes"])) == 1


def test_bad_requests_get_rekognition_errors() -> None:
    image = shared_path(GROUP).read_bytes()
    with pytest.raises(InvalidParameterException):
        call("RedactFaces", {"Image": {"Bytes": image}, "Method": "SMUDGE"})
    with pytest.raises(InvalidImageFormatException):
        call("RedactFaces", {"Image": {"Bytes": b"GIF89a not really"}})
    with pytest.raises(ResourceNotFoundException):
        call("RedactFaces", {"Image": {"Bytes": image}, "SpareCollectionId": "nobody"})


def _frames(path: Path) -> list[np.ndarray]:
    reader = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = reader.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
    reader.release()
    return frames


@pytest.mark.slow
def test_redacted_video_keeps_every_frame_and_no_face(tmp_path: Path) -> None:
    source = shared_path(VIDEO)
    original = _frames(source)
    assert sum(len(face_analyzer().detect(from_array(f))) for f in original) > 0
    target = tmp_path / "redacted.mp4"
    result = redact_video(source, target, "PIXELATE")
    redacted = _frames(target)
    assert result.frames == len(original) == len(redacted)
    assert redacted[0].shape == original[0].shape
    assert int(cv2.VideoCapture(str(target)).get(cv2.CAP_PROP_FRAME_COUNT)) == len(original)
    for frame in redacted:
        assert face_analyzer().detect(from_array(frame)) == []


def test_unreadable_video_and_bad_target_are_parameter_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(InvalidParameterException):
        redact_video(junk, tmp_path / "out.mp4")
    with pytest.raises(InvalidParameterException):
        redact_video(shared_path(VIDEO), tmp_path / "out.xyz")


def test_cli_redacts_and_audits(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from oversight.cli import app

    target = tmp_path / "out.png"
    result = CliRunner().invoke(
        app, ["redact", str(shared_path(GROUP)), str(target), "--purpose", "press release"]
    )
    assert result.exit_code == 0, result.output
    assert face_analyzer().detect(load_image(target)) == []
    (record,) = AuditLog().records()
    assert (record["operation"], record["purpose"]) == ("RedactFaces", "press release")
    assert record["counts"]["RedactedFaces"] >= 4 and AuditLog().verify().ok
