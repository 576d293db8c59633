"""Rekognition's S3Object references, read from the operator's S3-compatible endpoint.

Images (`Image.S3Object`) and stored videos (`Video.S3Object`) are read from
`video_s3_endpoint_url`, with credentials from botocore's usual chain. Without that setting there
is no S3 to read from: the server never reaches out to AWS's own endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, BinaryIO

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .config import Settings, settings
from .errors import InvalidS3ObjectException
from .operations.context import LOCAL_ACCOUNT


def s3_endpoint() -> str:
    """The configured S3-compatible endpoint (InvalidS3ObjectException when there is none)."""
    endpoint = settings().video_s3_endpoint_url
    if not endpoint:
        raise InvalidS3ObjectException(
            "No S3 endpoint is configured on this server: set video_s3_endpoint_url "
            "(OVERSIGHT_VIDEO_S3_ENDPOINT_URL) to an S3-compatible endpoint")
    return endpoint


def bucket_account(bucket: str) -> str:
    """The account a bucket belongs to: the `s3_bucket_accounts` setting, else the local
    account (so another tenant reads only the buckets the operator gave it)."""
    for entry in settings().s3_bucket_accounts.split():
        name, sep, account = entry.partition("=")
        if sep and name == bucket:
            return account
    return LOCAL_ACCOUNT


def _client() -> Any:
    s3_endpoint()
    return _client_for(settings())


@lru_cache(maxsize=2)
def _client_for(config: Settings) -> Any:
    # One per settings (credentials are resolved when it is built): a botocore client is
    # thread-safe, and building one costs over 100 ms.
    return botocore.session.get_session().create_client(
        "s3", region_name=config.region, endpoint_url=config.video_s3_endpoint_url,
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
    )


def _arguments(s3_object: dict[str, Any], member: str) -> dict[str, str]:
    bucket, name = s3_object.get("Bucket"), s3_object.get("Name")
    if not bucket or not name:
        raise InvalidS3ObjectException(f"{member}.S3Object needs a Bucket and a Name")
    arguments = {"Bucket": bucket, "Key": name}
    if s3_object.get("Version"):
        arguments["VersionId"] = s3_object["Version"]
    return arguments


@contextmanager
def _s3_errors(arguments: dict[str, str]) -> Iterator[None]:
    """S3's failures as the error Rekognition answers for an unreadable object."""
    where = f"s3://{arguments['Bucket']}/{arguments['Key']}"
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "") or str(error)
        raise InvalidS3ObjectException(f"Unable to get object {where}: {code}") from error
    except BotoCoreError as error:
        raise InvalidS3ObjectException(f"Unable to get object {where}: {error}") from error


def object_size(s3_object: dict[str, Any], member: str) -> int:
    """The object's size in bytes, checking that it exists and can be read (HEAD)."""
    arguments = _arguments(s3_object, member)
    client = _client()
    with _s3_errors(arguments):
        return int(client.head_object(**arguments).get("ContentLength", 0))


def put_object(bucket: str, key: str, body: bytes, content_type: str) -> None:
    """Write an object (results Oversight hands back through S3, as Rekognition does)."""
    with _s3_errors({"Bucket": bucket, "Key": key}):
        _client().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


@contextmanager
def open_object(s3_object: dict[str, Any], member: str) -> Iterator[tuple[int, BinaryIO]]:
    """(size in bytes, readable body) of the object for the duration of the `with`."""
    arguments = _arguments(s3_object, member)
    client = _client()
    with _s3_errors(arguments):
        response = client.get_object(**arguments)
        with response["Body"] as body:
            yield int(response.get("ContentLength", 0)), body
