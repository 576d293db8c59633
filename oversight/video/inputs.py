"""Where a job's video is: Rekognition's Video.S3Object on an S3-compatible endpoint, or a local
path (CLI). S3 objects are copied to a temporary file because the decoder needs to seek."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..config import settings
from ..errors import InvalidParameterException, InvalidS3ObjectException, VideoTooLargeException

# Rekognition Video's limit for a stored video.
MAX_VIDEO_BYTES = 10 * 1024**3


def s3_endpoint() -> str:
    """The configured S3-compatible endpoint; without one there is no S3 to read from (the
    server never reaches out to AWS's own endpoints)."""
    endpoint = settings().video_s3_endpoint_url
    if not endpoint:
        raise InvalidS3ObjectException(
            "No S3 endpoint is configured on this server: set video_s3_endpoint_url "
            "(OVERSIGHT_VIDEO_S3_ENDPOINT_URL) to an S3-compatible endpoint")
    return endpoint


def _s3_client() -> Any:
    config = settings()
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        region_name=config.region,
        endpoint_url=s3_endpoint(),
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
    )


@contextmanager
def _s3_video(s3_object: dict[str, Any]) -> Iterator[Path]:
    bucket, name = s3_object.get("Bucket"), s3_object.get("Name")
    if not bucket or not name:
        raise InvalidS3ObjectException("Video.S3Object needs a Bucket and a Name")
    arguments = {"Bucket": bucket, "Key": name}
    if s3_object.get("Version"):
        arguments["VersionId"] = s3_object["Version"]
    directory = settings().data_dir / "video-cache"
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, suffix=Path(name).suffix) as target:
        try:
            response = _s3_client().get_object(**arguments)
            if int(response.get("ContentLength", 0)) > MAX_VIDEO_BYTES:
                raise VideoTooLargeException(f"s3://{bucket}/{name} is over 10 GB")
            with response["Body"] as body:
                shutil.copyfileobj(body, target)
            target.flush()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise InvalidS3ObjectException(
                f"Unable to get object s3://{bucket}/{name}: {code or error}"
            ) from error
        except BotoCoreError as error:
            raise InvalidS3ObjectException(
                f"Unable to get object s3://{bucket}/{name}: {error}"
            ) from error
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
