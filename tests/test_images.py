"""images.py: decoding, orientation and every bad-input class with its typed error."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from oversight.errors import (
    ImageTooLargeException,
    InvalidImageFormatException,
    InvalidParameterException,
)
from oversight.images import MAX_DECODED_PIXELS, MAX_INLINE_BYTES, decode_image, from_array


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


# -- the work per image is bounded before decoding (issue 12 finding 9) ---------------------------
def _blank(width: int, height: int, fmt: str) -> bytes:
    """A blank image of any size that compresses to little (1-bit for PNG, grey for JPEG)."""
    buffer = io.BytesIO()
    Image.new("1" if fmt == "PNG" else "L", (width, height)).save(buffer, format=fmt)
    return buffer.getvalue()


_PEAK = """
import resource, sys
from oversight.images import decode_image
data = sys.stdin.buffer.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    image = decode_image(data)
    outcome = f"{image.width}x{image.height}"
except Exception as error:
    outcome = type(error).__name__
print(outcome, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def _decode_in_fresh_process(data: bytes) -> tuple[str, int]:
    """What decode_image made of `data`, and how many MB the process's peak RSS grew by."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK], input=data, capture_output=True, check=True, timeout=120
    )
    outcome, grown = done.stdout.decode().split()
    return outcome, int(grown)


@pytest.mark.parametrize(
    ("size", "error"),
    [
        ((100_000, 80), ImageTooLargeException),  # a side over 10,000
        ((9_400, 9_400), ImageTooLargeException),  # a PNG over MAX_DECODED_PIXELS
        ((4_097, 3_072), ImageTooLargeException),
        ((2_000, 80), InvalidParameterException),  # wider than 20:1
        ((80, 2_000), InvalidParameterException),
    ],
)
def test_oversized_images_are_refused_without_decoding(
    size: tuple[int, int], error: type[Exception]
) -> None:
    png = _blank(*size, "PNG")
    outcome, grown_mb = _decode_in_fresh_process(png)
    assert outcome == error.__name__ and grown_mb < 32, (outcome, grown_mb)
    # The header alone decides: the pixels are never read.
    with pytest.raises(error):
        decode_image(png[:100])


def test_large_jpegs_are_decoded_at_a_reduced_scale() -> None:
    outcome, grown_mb = _decode_in_fresh_process(_blank(9_400, 9_400, "JPEG"))
    assert outcome == "2350x2350", outcome  # 1/4 scale, the least that fits the pixel budget
    assert grown_mb < 100, grown_mb  # the whole image would be 265 MB as RGB
    largest = decode_image(_blank(4_096, 3_072, "JPEG"))
    assert largest.width * largest.height == MAX_DECODED_PIXELS  # decoded whole
    half = decode_image(_blank(4_100, 3_072, "JPEG"))
    assert (half.width, half.height) == (2_050, 1_536)
