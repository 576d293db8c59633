"""A collection's matcher (fused vector or SFace alone): chosen at creation, switched later
without re-indexing, each with its own calibration (issue 15, item 3). Real faces: three LFW
photos of one person and one of another."""

from __future__ import annotations

import numpy as np
import pytest

from oversight.analysis import face_analyzer
from oversight.errors import InvalidParameterException
from oversight.images import decode_image
from oversight.operations import call, matching
from tests.conftest import shared_path


def _photos(person: str, count: int) -> list[bytes]:
    folder = shared_path(f"faces/lfw-devtrain/images/{person}")
    return [path.read_bytes() for path in sorted(folder.glob("*.jpg"))[:count]]


POWELL = _photos("Colin_Powell", 3) if shared_path("faces/lfw-devtrain").is_dir() else []
STORED = {"powell-1": 0, "powell-2": 1}


def _vector(data: bytes) -> np.ndarray:
    image = decode_image(data)
    return face_analyzer().embed(image, face_analyzer().detect(image)[0])


@pytest.fixture
def collection() -> str:
    name = "matchers"
    call("CreateCollection", {"CollectionId": name, "Matcher": "SFACE"})
    images = {"powell-1": POWELL[0], "powell-2": POWELL[1],
              "bush": _photos("George_W_Bush", 1)[0]}
    for external, data in images.items():
        call("IndexFaces", {"CollectionId": name, "Image": {"Bytes": data},
                            "ExternalImageId": external})
    return name


def test_matcher_switches_without_reindexing(collection: str) -> None:
    described = call("DescribeCollection", {"CollectionId": collection})
    assert described["Matcher"] == "SFACE"
    assert described["MatcherCalibration"]["Source"] == "PACKAGED"
    assert described["MatcherCalibration"]["ImpostorPairs"] > 1_000_000
    faces = {f["FaceId"] for f in call("ListFaces", {"CollectionId": collection})["Faces"]}
    probe = POWELL[2]
    request = {"CollectionId": collection, "Image": {"Bytes": probe}, "FaceMatchThreshold": 0}
    by_sface = call("SearchFacesByImage", request)["FaceMatches"]

    switched = call("UpdateCollectionMatcher", {"CollectionId": collection, "Matcher": "FUSED"})
    assert (switched["Matcher"], switched["PreviousMatcher"]) == ("FUSED", "SFACE")
    by_fused = call("SearchFacesByImage", request)["FaceMatches"]
    # The same stored faces answer both; nothing was indexed again.
    assert {f["FaceId"] for f in call("ListFaces", {"CollectionId": collection})["Faces"]} == faces
    assert {m["Face"]["FaceId"] for m in by_sface} == {m["Face"]["FaceId"] for m in by_fused}
    # Each answer is its matcher's calibrated Similarity of the same vectors.
    vector = _vector(probe)
    for matches, matcher in ((by_sface, "sface"), (by_fused, "fused")):
        for match in matches:
            external = match["Face"]["ExternalImageId"]
            if external in STORED:
                stored = _vector(POWELL[STORED[external]])
                assert match["Similarity"] == pytest.approx(
                    float(matching.compare(vector, stored, matcher)[0]), abs=0.01)
        # The same person ranks first under both.
        assert matches[0]["Face"]["ExternalImageId"].startswith("powell")
    assert by_sface[0]["Similarity"] != pytest.approx(by_fused[0]["Similarity"], abs=1e-3)


def test_an_unknown_matcher_is_refused() -> None:
    with pytest.raises(InvalidParameterException):
        call("CreateCollection", {"CollectionId": "odd", "Matcher": "DLIB"})
    call("CreateCollection", {"CollectionId": "odd"})
    assert call("DescribeCollection", {"CollectionId": "odd"})["Matcher"] == "FUSED"
    with pytest.raises(InvalidParameterException):
        call("UpdateCollectionMatcher", {"CollectionId": "odd", "Matcher": "dlib"})
