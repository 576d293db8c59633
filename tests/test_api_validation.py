"""The generic validator against botocore's Rekognition model (no server needed)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from oversight.api.service_model import operation_model
from oversight.api.validation import parse_body, validate_request
from oversight.errors import ImageTooLargeException, SerializationException, ValidationException

IMAGE = {"Bytes": base64.b64encode(b"\xff\xd8\xff").decode()}


def validate(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    model = operation_model(operation)
    assert model is not None
    return validate_request(model, request)


def test_valid_request_has_blobs_decoded() -> None:
    out = validate("DetectFaces", {"Image": IMAGE, "Attributes": ["ALL"]})
    assert out == {"Image": {"Bytes": b"\xff\xd8\xff"}, "Attributes": ["ALL"]}


def test_nulls_count_as_absent() -> None:
    assert validate("DetectFaces", {"Image": IMAGE, "Attributes": None}) == {
        "Image": {"Bytes": b"\xff\xd8\xff"}
    }


@pytest.mark.parametrize(
    ("operation", "request_", "expected"),
    [
        ("DetectFaces", {}, "Value null at 'image' failed to satisfy constraint: Member must not"),
        (
            "SearchFacesByImage",
            {"CollectionId": "c", "Image": IMAGE, "MaxFaces": 0},
            "at 'maxFaces' failed to satisfy constraint: Member must have value greater than or",
        ),
        (
            "SearchFacesByImage",
            {"CollectionId": "bad id!", "Image": IMAGE},
            "Member must satisfy regular expression pattern",
        ),
        (
            "SearchFacesByImage",
            {"CollectionId": "c", "Image": IMAGE, "FaceMatchThreshold": 101.5},
            "'faceMatchThreshold' failed to satisfy constraint: Member must have value less than",
        ),
        (
            "DetectFaces",
            {"Image": {"S3Object": {"Bucket": "bkt", "Name": ""}}},
            "at 'image.s3Object.name' failed to satisfy constraint: Member must have length",
        ),
        (
            "DetectFaces",
            {"Image": IMAGE, "Attributes": ["ALL", "WRONG"]},
            "Value 'WRONG' at 'attributes.2' failed to satisfy constraint: Member must satisfy",
        ),
        ("DetectFaces", {"Image": IMAGE, "Extra": 1}, "Member 'Extra' at 'request' is not a"),
        (
            "DetectLabels",
            {"Image": IMAGE, "Features": ["GENERAL_LABELS"] * 3},
            "at 'features' failed to satisfy constraint: Member must have length less than",
        ),
    ],
)
def test_constraint_violations(operation: str, request_: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationException) as raised:
        validate(operation, request_)
    assert expected in raised.value.message
    assert raised.value.message.startswith("1 validation error detected: ")


def test_every_violation_is_reported() -> None:
    with pytest.raises(ValidationException) as raised:
        validate("SearchFacesByImage", {"CollectionId": "", "MaxFaces": 99999})
    # empty CollectionId: too short and not matching its pattern; Image missing; MaxFaces too big
    assert raised.value.message.startswith("4 validation errors detected: ")


@pytest.mark.parametrize(
    "request_",
    [
        {"Image": "not an object"},
        {"Image": {"Bytes": 12}},
        {"Image": {"Bytes": "%%% not base64"}},
        {"Image": IMAGE, "Attributes": "ALL"},
        {"Image": IMAGE, "Attributes": [True]},
    ],
)
def test_wrong_json_types_are_serialization_errors(request_: dict[str, Any]) -> None:
    with pytest.raises(SerializationException):
        validate("DetectFaces", request_)


@pytest.mark.parametrize("value", [True, "5", 5.5])
def test_integers_must_be_integers(value: object) -> None:
    with pytest.raises(SerializationException):
        validate("SearchFacesByImage", {"CollectionId": "c", "Image": IMAGE, "MaxFaces": value})


def test_floats_accept_integers() -> None:
    out = validate(
        "SearchFacesByImage", {"CollectionId": "c", "Image": IMAGE, "FaceMatchThreshold": 80}
    )
    assert out["FaceMatchThreshold"] == 80.0 and isinstance(out["FaceMatchThreshold"], float)


def test_oversized_image_bytes_answer_the_modelled_error() -> None:
    big = base64.b64encode(b"\0" * (5 * 1024 * 1024 + 1)).decode()
    with pytest.raises(ImageTooLargeException):
        validate("DetectFaces", {"Image": {"Bytes": big}})


def test_java_unicode_patterns_are_understood() -> None:
    # TagKey uses \\p{L}: a letter in any script passes, an "aws:" prefix does not.
    arn = "arn:aws:rekognition:us-east-1:123456789012:collection/c"
    validate("TagResource", {"ResourceArn": arn, "Tags": {"équipe": "nord"}})
    with pytest.raises(ValidationException):
        validate("TagResource", {"ResourceArn": arn, "Tags": {"aws:reserved": "x"}})


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b'"text"', b"NaN", b'{"a": Infinity}', b"\xff", b"[" * 100_000]
)
def test_parse_body_rejects_non_objects(body: bytes) -> None:
    with pytest.raises(SerializationException):
        parse_body(body)


def test_empty_body_is_an_empty_request() -> None:
    assert parse_body(b"") == {} and parse_body(b"  \n") == {}
