"""DetectFaces and CompareFaces on real photos, through the in-process operation API."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata
from typer.testing import CliRunner

from oversight import operations
from oversight.analysis.geometry import LANDMARK_POINTS
from oversight.cli import app
from oversight.errors import (
    ImageTooLargeException,
    InvalidImageFormatException,
    InvalidParameterException,
    InvalidS3ObjectException,
)
from oversight.governance.audit import AuditLog
from tests.conftest import shared_path


def _jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


ASTRONAUT = _jpeg(skdata.astronaut())


def _file(relative: str) -> bytes:
    return shared_path(relative).read_bytes()


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_detect_faces_default_attributes_on_astronaut() -> None:
    response = operations.call("DetectFaces", {"Image": {"Bytes": ASTRONAUT}})
    (face,) = response["FaceDetails"]
    box = face["BoundingBox"]
    # The face sits in the upper middle of the 512 x 512 picture.
    assert 0.3 < box["Left"] < 0.4 and 0.08 < box["Top"] < 0.2
    assert 0.12 < box["Width"] < 0.25
    assert face["Confidence"] > 80
    assert {lm["Type"] for lm in face["Landmarks"]} == set(LANDMARK_POINTS) | {
        "leftPupil",
        "rightPupil",
    }
    assert len(face["Landmarks"]) == 30
    for landmark in face["Landmarks"]:
        assert box["Left"] - 0.05 < landmark["X"] < box["Left"] + box["Width"] + 0.05
    assert abs(face["Pose"]["Yaw"]) < 20 and abs(face["Pose"]["Roll"]) < 15
    assert 0 < face["Quality"]["Brightness"] < 100
    assert "AgeRange" not in face and "Gender" not in face


def test_detect_faces_all_attributes() -> None:
    response = operations.call(
        "DetectFaces", {"Image": {"Bytes": ASTRONAUT}, "Attributes": ["ALL"]}
    )
    (face,) = response["FaceDetails"]
    assert face["Gender"]["Value"] == "Female"
    assert face["AgeRange"]["Low"] < face["AgeRange"]["High"]
    assert face["EyesOpen"]["Value"] is True
    assert face["Smile"]["Value"] is True  # the astronaut smiles
    assert face["Emotions"][0]["Type"] == "HAPPY"
    assert face["FaceOccluded"]["Value"] is False
    # Attributes without a shipped model are absent, never invented.
    assert not {"Eyeglasses", "Sunglasses", "Beard", "Mustache", "EyeDirection"} & set(face)


def _yale_png(picture: Path) -> bytes:
    """The Yale faces are GIFs, which the API refuses: re-encoded as PNG."""
    png = io.BytesIO()
    Image.open(picture).convert("RGB").save(png, format="PNG")
    return png.getvalue()


def _top_emotion(image_bytes: bytes) -> str:
    response = operations.call(
        "DetectFaces", {"Image": {"Bytes": image_bytes}, "Attributes": ["EMOTIONS"]}
    )
    (face,) = response["FaceDetails"]
    assert set(face) == {"BoundingBox", "Confidence", "Emotions"}
    emotions = face["Emotions"]
    # Seven types, most likely first, a probability split; no model has CONFUSED.
    assert {e["Type"] for e in emotions} == {
        "HAPPY", "SAD", "ANGRY", "DISGUSTED", "SURPRISED", "CALM", "FEAR"
    }
    assert [e["Confidence"] for e in emotions] == sorted(
        (e["Confidence"] for e in emotions), reverse=True
    )
    assert sum(e["Confidence"] for e in emotions) == pytest.approx(100.0)
    return emotions[0]["Type"]


@pytest.mark.slow
def test_emotions_on_yale_expressions() -> None:
    folder = shared_path("faces/yalefaces/yalefaces")
    happy = [_top_emotion(_yale_png(p)) for p in sorted(folder.glob("subject*.happy"))[:5]]
    calm = [_top_emotion(_yale_png(p)) for p in sorted(folder.glob("subject*.normal"))[:5]]
    surprised = [_top_emotion(_yale_png(p)) for p in sorted(folder.glob("subject*.surprised"))[:5]]
    assert happy == ["HAPPY"] * 5
    assert calm.count("CALM") >= 4 and "HAPPY" not in calm
    assert surprised.count("SURPRISED") >= 4


def test_emotions_on_face_api_expression_photos() -> None:
    base = "faces/face-api.js/examples/images/"
    for name, expected in (("angry", "ANGRY"), ("surprised", "SURPRISED"), ("happy", "HAPPY")):
        assert _top_emotion(_file(f"{base}{name}.jpg")) == expected, name


def _occluded(relative: str) -> dict:
    response = operations.call(
        "DetectFaces", {"Image": {"Bytes": _file(relative)}, "Attributes": ["FACE_OCCLUDED"]}
    )
    return response["FaceDetails"][0]["FaceOccluded"]


def test_face_occluded_by_a_mask() -> None:
    masked = _occluded("faces/insightface/cpp-package/inspireface/test_res/data/bulk/mask2.jpg")
    assert masked["Value"] is True and masked["Confidence"] > 60
    bare = _occluded("faces/face-api.js/examples/images/happy.jpg")
    assert bare["Value"] is False and bare["Confidence"] > 90


def test_named_attribute_without_default() -> None:
    response = operations.call(
        "DetectFaces", {"Image": {"Bytes": ASTRONAUT}, "Attributes": ["GENDER"]}
    )
    (face,) = response["FaceDetails"]
    assert set(face) == {"BoundingBox", "Confidence", "Gender"}


def test_eyes_closed_and_open_samples() -> None:
    base = "faces/insightface/cpp-package/inspireface/test_res/data/reaction/"
    for name, expected in (("open_eyes.png", True), ("close_eyes.jpeg", False)):
        response = operations.call(
            "DetectFaces", {"Image": {"Bytes": _file(base + name)}, "Attributes": ["EYES_OPEN"]}
        )
        assert response["FaceDetails"][0]["EyesOpen"]["Value"] is expected, name


def _smile(picture: Path) -> bool:
    """Smile as DetectFaces reads it."""
    response = operations.call(
        "DetectFaces", {"Image": {"Bytes": _yale_png(picture)}, "Attributes": ["SMILE"]}
    )
    return response["FaceDetails"][0]["Smile"]["Value"]


def test_smile_on_yale_expressions() -> None:
    folder = shared_path("faces/yalefaces/yalefaces")
    happy = [_smile(p) for p in sorted(folder.glob("subject*.happy"))]
    neutral = [_smile(p) for p in sorted(folder.glob("subject*.normal"))]
    assert len(happy) == len(neutral) == 15
    assert sum(happy) >= 12 and sum(neutral) <= 1


def test_group_photo_face_boxes_recall() -> None:
    root = shared_path("detection/dlib-voc")
    truth: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    with (root / "face_boxes_gt.csv").open() as handle:
        for row in csv.DictReader(handle):
            truth[row["path"].split("examples/")[1]].append(tuple(float(row[k]) for k in "xywh"))
    found = total = 0
    for relative, boxes in truth.items():
        image_bytes = (root / "examples" / relative).read_bytes()
        width, height = Image.open(io.BytesIO(image_bytes)).size
        response = operations.call("DetectFaces", {"Image": {"Bytes": image_bytes}})
        detected = [
            (b["Left"] * width, b["Top"] * height, b["Width"] * width, b["Height"] * height)
            for b in (f["BoundingBox"] for f in response["FaceDetails"])
        ]
        total += len(boxes)
        found += sum(any(_iou(box, d) >= 0.5 for d in detected) for box in boxes)
    assert found / total >= 0.9, f"recall {found}/{total}"


@pytest.mark.slow
def test_compare_same_person_in_group_photo() -> None:
    amy = _file("faces/face-api.js/examples/images/amy/amy1.png")
    group = _file("faces/face-api.js/examples/images/bbt4.jpg")
    response = operations.call(
        "CompareFaces", {"SourceImage": {"Bytes": amy}, "TargetImage": {"Bytes": group}}
    )
    assert len(response["FaceMatches"]) == 1
    assert response["FaceMatches"][0]["Similarity"] > 90
    assert len(response["UnmatchedFaces"]) >= 3
    assert response["SourceImageFace"]["Confidence"] > 50
    # ComparedFace carries Emotions and Smile, as Rekognition's output shape has them.
    for face in [response["FaceMatches"][0]["Face"], *response["UnmatchedFaces"]]:
        assert len(face["Emotions"]) == 7 and set(face["Smile"]) == {"Value", "Confidence"}


@pytest.mark.parametrize(
    ("source", "target", "same"),
    [
        ("amy/amy1.png", "amy/amy3.png", True),
        ("sheldon/sheldon1.png", "sheldon/sheldon2.png", True),
        ("amy/amy1.png", "bernadette/bernadette1.png", False),
        ("howard/howard1.png", "raj/raj1.png", False),
    ],
)
def test_compare_identity_pairs(source: str, target: str, same: bool) -> None:
    folder = "faces/face-api.js/examples/images/"
    response = operations.call(
        "CompareFaces",
        {
            "SourceImage": {"Bytes": _file(folder + source)},
            "TargetImage": {"Bytes": _file(folder + target)},
            "SimilarityThreshold": 0,
        },
    )
    similarity = response["FaceMatches"][0]["Similarity"]
    assert (similarity >= 80) is same, similarity


def test_compare_threshold_moves_faces_to_unmatched() -> None:
    response = operations.call(
        "CompareFaces",
        {
            "SourceImage": {"Bytes": ASTRONAUT},
            "TargetImage": {"Bytes": ASTRONAUT},
            "SimilarityThreshold": 100,
        },
    )
    # The identical face scores at most 100; with threshold 100 it may only match if exactly 100.
    assert len(response["FaceMatches"]) + len(response["UnmatchedFaces"]) == 1


def test_no_face_in_source_is_invalid_parameter() -> None:
    blank = _jpeg(np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(InvalidParameterException, match="no faces in the source"):
        operations.call(
            "CompareFaces",
            {"SourceImage": {"Bytes": blank}, "TargetImage": {"Bytes": ASTRONAUT}},
        )


@pytest.mark.parametrize(
    ("image", "error"),
    [
        ({"Bytes": b"\x89PNG garbage"}, InvalidImageFormatException),
        ({"Bytes": b"x" * (5 * 1024 * 1024 + 1)}, ImageTooLargeException),
        ({"S3Object": {"Bucket": "b", "Name": "n.jpg"}}, InvalidS3ObjectException),
        ({}, InvalidImageFormatException),
    ],
    ids=["garbage", "over-5MB", "s3", "empty"],
)
def test_bad_images_get_typed_errors(image: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        operations.call("DetectFaces", {"Image": image})


def test_cli_prints_api_json(tmp_path: Path) -> None:
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(ASTRONAUT)
    runner = CliRunner()
    result = runner.invoke(app, ["detect-faces", str(photo), "--attributes", "ALL"])
    assert result.exit_code == 0, result.output
    assert '"FaceDetails"' in result.output and '"Gender"' in result.output
    # The local operator is audited like an API caller, without the image.
    (entry,) = [r for r in AuditLog().records() if r.get("operation") == "DetectFaces"]
    assert "Bytes" not in json.dumps(entry)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    result = runner.invoke(app, ["compare-faces", str(bad), str(photo)])
    assert result.exit_code == 1
