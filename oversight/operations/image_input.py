"""The `Image` member of a request, decoded: inline Bytes, or an S3Object read from the
configured S3-compatible endpoint (oversight/s3.py) with Rekognition's 15 MB limit."""

from __future__ import annotations

from typing import Any

from ..errors import ImageTooLargeException, InvalidImageFormatException
from ..images import MAX_S3_BYTES, DecodedImage, decode_image
from ..s3 import open_object


def _s3_bytes(s3_object: dict[str, Any], member: str) -> bytes:
    with open_object(s3_object, member) as (size, body):
        if size > MAX_S3_BYTES:
            raise ImageTooLargeException(
                f"Image size {size} bytes exceeds the {MAX_S3_BYTES} byte limit.")
        # Read one byte past the limit: a body longer than its ContentLength is refused too.
        data: bytes = body.read(MAX_S3_BYTES + 1)
    return data


def request_image(request: dict[str, Any], member: str = "Image") -> DecodedImage:
    """Decode `request[member]` (InvalidS3ObjectException for an object that cannot be read)."""
    image = request.get(member) or {}
    if "S3Object" in image:
        return decode_image(_s3_bytes(image["S3Object"], member), max_bytes=MAX_S3_BYTES)
    data = image.get("Bytes")
    if not isinstance(data, bytes | bytearray) or not data:
        raise InvalidImageFormatException("Request has invalid image format")
    return decode_image(bytes(data))
