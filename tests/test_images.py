"""images.py: decoding, orientation and every bad-input class with its typed error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from oversight.errors import (
    ImageTooLargeException,
    InvalidImageFormatException,
    InvalidParameterException,
)
from oversight.images import MAX_INLINE_BYTES, decode_image, from_array


def _encode(rgb: np.ndarray, fmt: str = "JPEG", **save_args: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def test_decodes_jpeg_and_png_to_rgb() -> None:
    astronaut = skdata.astronaut()
    for fmt in ("JPEG", "PNG"):
        image = decode_image(_encode(astronaut, fmt))
        assert (image.height, image.width) == astronaut.shape[:2]
        assert image.format == fmt
        assert image.rgb.dtype == np.uint8
        assert np.array_equal(image.bgr[:, :, 0], image.rgb[:, :, 2])


def test_exif_orientation_is_applied_and_reported() -> None:
    astronaut = skdata.astronaut()[:, :400]  # 512 x 400: rotation is visible in the shape
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: rotate 90 degrees clockwise to display
    image = decode_image(_encode(astronaut, "JPEG", exif=exif))
    assert (image.height, image.width) == (400, 512)
    assert image.exif_orientation == 6


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"", InvalidParameterException),
        (b"this is not an image at all", InvalidImageFormatException),
        (_encode(skdata.astronaut(), "GIF"), InvalidImageFormatException),
        (_encode(skdata.astronaut())[:2000], InvalidImageFormatException),
        (_encode(np.zeros((60, 300, 3), np.uint8), "PNG"), InvalidParameterException),
        (b"\0" * (MAX_INLINE_BYTES + 1), ImageTooLargeException),
    ],
    ids=["empty", "garbage", "gif", "truncated", "too-small", "over-5MB"],
)
def test_bad_inputs_raise_typed_errors(payload: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_image(payload)


def test_decompression_bomb_is_refused() -> None:
    # A 1-bit PNG of 12,000 x 12,000 pixels compresses to a few kilobytes.
    bomb = Image.new("1", (12_000, 12_000))
    buffer = io.BytesIO()
    bomb.save(buffer, format="PNG")
    with pytest.raises(ImageTooLargeException):
        decode_image(buffer.getvalue())


def test_from_array_rejects_wrong_shapes() -> None:
    with pytest.raises(InvalidParameterException):
        from_array(np.zeros((100, 100), np.uint8))
