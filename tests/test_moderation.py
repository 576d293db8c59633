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


def test_body_parts_fill_the_levels_below_their_parents() -> None:
    from oversight.analysis.moderation import taxonomy_labels

    labels = taxonomy_labels(10.0, [("ANUS_EXPOSED", 0.8), ("BUTTOCKS_EXPOSED", 0.6),
                                    ("FEMALE_BREAST_COVERED", 0.7), ("FACE_FEMALE", 0.9)])
    assert [(lb.name, lb.parent, lb.level, lb.confidence) for lb in labels] == [
        ("Explicit", "", 1, 80.0),
        ("Explicit Nudity", "Explicit", 2, 80.0),
        ("Exposed Buttocks or Anus", "Explicit Nudity", 3, 80.0),
        ("Swimwear or Underwear", "", 1, 70.0),
        ("Female Swimwear or Underwear", "Swimwear or Underwear", 2, 70.0),
    ]


def test_optional_body_part_detector_on_a_real_photo() -> None:
    pytest.importorskip("nudenet")  # the AGPL optional extra: oversight[nudity]
    # NudeNet reads the jeans of the woman in darknet's person.jpg as weakly exposed buttocks.
    labels = _moderate("labels/darknet/data/person.jpg", MinConfidence=0)["ModerationLabels"]
    by_name = {label["Name"]: label for label in labels}
    assert by_name["Exposed Buttocks or Anus"]["TaxonomyLevel"] == 3
    for label in labels:
        if label["ParentName"]:
            assert by_name[label["ParentName"]]["Confidence"] >= label["Confidence"]
    assert all(label["Confidence"] < 50 for label in labels)  # nothing at the default bar
