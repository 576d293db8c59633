"""DetectModerationLabels on real photos: open_nsfw's score as Rekognition's "Explicit" level,
defaults, and the request members Oversight cannot honour."""

from __future__ import annotations

import pytest

from oversight import operations
from oversight.errors import InvalidImageFormatException, InvalidParameterException
from tests.conftest import shared_path

DOG = "labels/darknet/data/dog.jpg"
# The classic test portrait: bare shoulders, which open_nsfw scores low but clearly above zero.
PORTRAIT = "labels/opencv-samples/lena.jpg"


def _moderate(rel: str, **request: object) -> dict:
    image = {"Bytes": shared_path(rel).read_bytes()}
    return operations.call("DetectModerationLabels", {"Image": image, **request})


def test_safe_photo_has_no_labels_at_the_default_threshold() -> None:
    response = _moderate(DOG)
    assert response["ModerationLabels"] == []
    assert response["ModerationModelVersion"]


def test_scores_are_real_and_ordered() -> None:
    portrait = _moderate(PORTRAIT, MinConfidence=0)["ModerationLabels"]
    dog = _moderate(DOG, MinConfidence=0)["ModerationLabels"]
    assert [label["Name"] for label in portrait] == ["Explicit"]
    assert portrait[0]["ParentName"] == "" and portrait[0]["TaxonomyLevel"] == 1
    # Skin shows more of what the model looks for than a dog on a bike path does.
    assert portrait[0]["Confidence"] > dog[0]["Confidence"] + 5
    assert portrait[0]["Confidence"] < 50  # and it is still not explicit


def test_unsupported_members_and_bad_images() -> None:
    with pytest.raises(InvalidParameterException):
        _moderate(DOG, ProjectVersion="arn:aws:rekognition:us-east-1:000000000000:project/p/"
                                      "version/v/1")
    with pytest.raises(InvalidImageFormatException):
        operations.call("DetectModerationLabels", {"Image": {"Bytes": b"not an image"}})
