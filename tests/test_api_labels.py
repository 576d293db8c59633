"""DetectLabels, DetectText, DetectModerationLabels through the real server (boto3, AWS CLI)
and the `oversight detect-*` commands."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api_server import ApiServer, aws, oversight_cli
from tests.conftest import shared_path

DOG = "labels/darknet/data/dog.jpg"
SIGN = "ocr/mmocr/demo/demo_text_det.jpg"


@pytest.mark.slow
def test_detect_labels_with_boto3(rekognition: Any) -> None:
    image = {"Bytes": shared_path(DOG).read_bytes()}
    response = rekognition.detect_labels(Image=image, MaxLabels=5, MinConfidence=60)
    names = [label["Name"] for label in response["Labels"]]
    assert "Dog" in names and len(names) == 5
    dog = response["Labels"][names.index("Dog")]
    assert {"Name": "Animal"} in dog["Parents"]
    properties = rekognition.detect_labels(Image=image, Features=["IMAGE_PROPERTIES"])
    assert properties["ImageProperties"]["DominantColors"]


@pytest.mark.slow
def test_detect_text_with_boto3(rekognition: Any) -> None:
    response = rekognition.detect_text(Image={"Bytes": shared_path(SIGN).read_bytes()})
    lines = [d["DetectedText"] for d in response["TextDetections"] if d["Type"] == "LINE"]
    assert "Octavia Hill" in lines


def test_detect_moderation_labels_with_boto3(rekognition: Any) -> None:
    response = rekognition.detect_moderation_labels(Image={"Bytes": shared_path(DOG).read_bytes()})
    assert response["ModerationLabels"] == []


def test_errors_through_the_wire(rekognition: Any) -> None:
    with pytest.raises(rekognition.exceptions.InvalidImageFormatException):
        rekognition.detect_labels(Image={"Bytes": b"definitely not an image"})
    with pytest.raises(ClientError) as raised:
        rekognition.recognize_celebrities(Image={"Bytes": shared_path(DOG).read_bytes()})
    assert raised.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert "ships" in raised.value.response["Error"]["Message"]


@pytest.mark.slow
def test_aws_cli_detect_labels(api_server: ApiServer) -> None:
    code, parsed, stderr = aws(api_server, "detect-labels", "--image-bytes",
                               f"fileb://{shared_path(DOG)}", "--max-labels", "10")
    assert code == 0, stderr
    assert "Dog" in [label["Name"] for label in parsed["Labels"]]


@pytest.mark.slow
def test_oversight_cli_commands(api_server: ApiServer) -> None:
    done = oversight_cli(api_server, "detect-labels", str(shared_path(DOG)), "--max-labels", "8")
    assert done.returncode == 0, done.stderr
    assert "Dog" in [label["Name"] for label in json.loads(done.stdout)["Labels"]]
    done = oversight_cli(api_server, "detect-moderation-labels", str(shared_path(DOG)))
    assert done.returncode == 0 and json.loads(done.stdout)["ModerationLabels"] == []
    not_an_image = shared_path("labels/coco8/README.md")
    done = oversight_cli(api_server, "detect-text", str(not_an_image))
    assert done.returncode == 1
    assert json.loads(done.stderr.strip().splitlines()[-1])["__type"] == (
        "InvalidImageFormatException")
