"""DetectFaces and CompareFaces on real photos through the real server: boto3 and the AWS CLI."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api_server import ApiServer, aws
from tests.conftest import shared_path

LFW = "faces/lfw-devtrain/images"


def lfw(person: str, number: int) -> Path:
    return shared_path(f"{LFW}/{person}/{person}_{number:04d}.jpg")


@pytest.fixture(scope="module")
def astronaut_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def test_detect_faces_with_boto3(rekognition: Any, astronaut_jpeg: bytes) -> None:
    response = rekognition.detect_faces(Image={"Bytes": astronaut_jpeg}, Attributes=["ALL"])
    faces = response["FaceDetails"]
    assert len(faces) == 1
    face = faces[0]
    box = face["BoundingBox"]
    # Eileen Collins' face sits in the upper middle of the 512 x 512 picture.
    assert 0.3 < box["Left"] + box["Width"] / 2 < 0.7 and box["Top"] < 0.4
    assert face["Confidence"] > 90
    assert {"AgeRange", "Gender", "Landmarks", "Pose", "Quality"} <= set(face)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_emotions_and_face_cover_with_boto3(rekognition: Any) -> None:
    base = "faces/insightface/cpp-package/inspireface/test_res/data/"
    happy = shared_path(base + "emotion/happy.png").read_bytes()
    (face,) = rekognition.detect_faces(Image={"Bytes": happy}, Attributes=["EMOTIONS"])[
        "FaceDetails"
    ]
    assert face["Emotions"][0]["Type"] == "HAPPY"
    assert "CONFUSED" not in {e["Type"] for e in face["Emotions"]}

    masked = {"Bytes": shared_path(base + "bulk/mask2.jpg").read_bytes()}
    response = rekognition.detect_protective_equipment(
        Image=masked,
        SummarizationAttributes={"MinConfidence": 60, "RequiredEquipmentTypes": ["FACE_COVER"]},
    )
    person = response["Persons"][0]
    (face_part,) = person["BodyParts"]
    assert face_part["EquipmentDetections"][0]["Type"] == "FACE_COVER"
    assert response["Summary"]["PersonsWithRequiredEquipment"] == [person["Id"]]


@pytest.mark.slow
def test_compare_faces_with_boto3(rekognition: Any) -> None:
    source = {"Bytes": lfw("George_W_Bush", 353).read_bytes()}

    def best_similarity(target: Path) -> float:
        response = rekognition.compare_faces(
            SourceImage=source, TargetImage={"Bytes": target.read_bytes()}, SimilarityThreshold=0
        )
        assert response["SourceImageFace"]["BoundingBox"]
        return max(match["Similarity"] for match in response["FaceMatches"])

    same = best_similarity(lfw("George_W_Bush", 407))
    other = best_similarity(lfw("Colin_Powell", 38))
    assert 80 <= same < 100 and other < 80  # 100 is for identical faces only (issue 13.4)


def test_garbage_bytes_are_an_invalid_image(rekognition: Any) -> None:
    with pytest.raises(ClientError) as raised:
        rekognition.detect_faces(Image={"Bytes": b"definitely not a JPEG" * 10})
    assert raised.value.response["Error"]["Code"] == "InvalidImageFormatException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.slow
def test_aws_cli_detect_and_compare(
    api_server: ApiServer, astronaut_jpeg: bytes, tmp_path: Path
) -> None:
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    code, detected, stderr = aws(api_server, "detect-faces", "--image-bytes", f"fileb://{photo}")
    assert code == 0, stderr
    assert len(detected["FaceDetails"]) == 1
    code, compared, stderr = aws(
        api_server,
        "compare-faces",
        "--source-image-bytes", f"fileb://{lfw('George_W_Bush', 353)}",
        "--target-image-bytes", f"fileb://{lfw('George_W_Bush', 407)}",
    )
    assert code == 0, stderr
    assert compared["FaceMatches"] and compared["FaceMatches"][0]["Similarity"] >= 80
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\x00" * 1000)
    code, _, stderr = aws(api_server, "detect-faces", "--image-bytes", f"fileb://{garbage}")
    assert code != 0 and "InvalidImageFormatException" in stderr


def test_attributes_no_model_answers_are_named_per_request(rekognition: Any,
                                                           astronaut_jpeg: bytes) -> None:
    # They were left out silently; only the README said why (issue 13).
    def unanswered(**request: Any) -> str | None:
        response = rekognition.detect_faces(Image={"Bytes": astronaut_jpeg}, **request)
        return response["ResponseMetadata"]["HTTPHeaders"].get(
            "x-oversight-unanswered-attributes")

    assert unanswered(Attributes=["EYEGLASSES", "SMILE", "BEARD"]) == "BEARD, EYEGLASSES"
    assert unanswered(Attributes=["ALL"]) == (
        "BEARD, EYE_DIRECTION, EYEGLASSES, MUSTACHE, SUNGLASSES")
    assert unanswered() is None and unanswered(Attributes=["SMILE"]) is None
