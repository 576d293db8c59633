"""Where a job's video is: Rekognition's Video.S3Object on the S3-compatible endpoint, or a local
path (CLI). S3 objects are copied to a temporary file because the decoder needs to seek."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import settings
from ..errors import InvalidParameterException, VideoTooLargeException
from ..s3 import object_size, open_object

# Rekognition Video's limit for a stored video.
MAX_VIDEO_BYTES = 10 * 1024**3


def _refuse_too_large(s3_object: dict[str, Any], size: int) -> None:
    if size > MAX_VIDEO_BYTES:
        raise VideoTooLargeException(
            f"s3://{s3_object['Bucket']}/{s3_object['Name']} is over 10 GB")


def check_s3_video(s3_object: dict[str, Any]) -> None:
    """Refuse, when a job is started, a video that is missing, unreadable or too large."""
    _refuse_too_large(s3_object, object_size(s3_object, "Video"))


@contextmanager
def _s3_video(s3_object: dict[str, Any]) -> Iterator[Path]:
    directory = settings().data_dir / "video-cache"
    directory.mkdir(parents=True, exist_ok=True)
    suffix = Path(s3_object.get("Name") or "").suffix
    with tempfile.NamedTemporaryFile(dir=directory, suffix=suffix) as target:
        with open_object(s3_object, "Video") as (size, body):
            _refuse_too_large(s3_object, size)
            shutil.copyfileobj(body, target)
        target.flush()
        yield Path(target.name)


@contextmanager
def local_video(source: dict[str, Any]) -> Iterator[Path]:
    """A readable local file for the job's source, for the duration of the `with`."""
    if "Path" in source:
        path = Path(source["Path"])
        if not path.is_file():
            raise InvalidParameterException(f"Video file {path} does not exist")
        yield path
    elif "S3Object" in source:
        with _s3_video(source["S3Object"]) as path:
            yield path
    else:
        raise InvalidParameterException("Video must contain an S3Object")
