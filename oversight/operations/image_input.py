"""The `Image` member of a request, decoded: inline Bytes only (there is no S3 here)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidImageFormatException, InvalidS3ObjectException
from ..images import DecodedImage, decode_image


def request_image(request: dict[str, Any], member: str = "Image") -> DecodedImage:
    """Decode `request[member]`; an S3Object reference gets the error S3 access would give."""
    image = request.get(member) or {}
    if "S3Object" in image:
        raise InvalidS3ObjectException("Oversight has no S3: send the image inline as Image.Bytes")
    data = image.get("Bytes")
    if not isinstance(data, bytes | bytearray) or not data:
        raise InvalidImageFormatException("Request has invalid image format")
    return decode_image(bytes(data))
