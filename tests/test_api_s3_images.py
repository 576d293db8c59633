"""Image.S3Object read from the server's S3-compatible endpoint: the same answer as the same
bytes sent inline, and Rekognition's errors for a missing or oversized object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api_server import ApiServer
from tests.test_api_faces import lfw
from tests.video_helpers import upload

BUCKET = "images"


def _s3(server: ApiServer, path: Path, key: str | None = None) -> dict[str, Any]:
    upload(server.s3_url, BUCKET, key or path.name, path)
    return {"S3Object": {"Bucket": BUCKET, "Name": key or path.name}}


@pytest.mark.slow
def test_s3_images_are_analysed_like_inline_bytes(api_server: ApiServer,
                                                  rekognition: Any) -> None:
    photo = lfw("George_W_Bush", 353)
    inline = {"Bytes": photo.read_bytes()}
    stored = _s3(api_server, photo)
    assert (rekognition.detect_faces(Image=stored)["FaceDetails"]
            == rekognition.detect_faces(Image=inline)["FaceDetails"])
    assert (rekognition.detect_labels(Image=stored)["Labels"]
            == rekognition.detect_labels(Image=inline)["Labels"])
    other = _s3(api_server, lfw("George_W_Bush", 407))
    matches = rekognition.compare_faces(SourceImage=stored, TargetImage=other)["FaceMatches"]
    assert matches and matches[0]["Similarity"] >= 80


def test_a_missing_or_oversized_s3_image_gets_rekognitions_errors(
    api_server: ApiServer, rekognition: Any, tmp_path: Path,
) -> None:
    errors = rekognition.exceptions
    with pytest.raises(errors.InvalidS3ObjectException, match="absent.jpg"):
        rekognition.detect_faces(Image={"S3Object": {"Bucket": BUCKET, "Name": "absent.jpg"}})
    big = tmp_path / "big.jpg"
    big.write_bytes(lfw("George_W_Bush", 353).read_bytes() + bytes(15 * 1024 * 1024))
    with pytest.raises(errors.ImageTooLargeException):
        rekognition.detect_labels(Image=_s3(api_server, big))
