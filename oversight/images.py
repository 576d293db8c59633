"""Decode and validate every input image once.

Rekognition accepts JPEG and PNG, at most 5 MB as inline bytes (15 MB from S3). Images are
returned upright (EXIF orientation applied) as RGB uint8 arrays, so every coordinate refers to
the upright image; like Rekognition today, responses then carry no OrientationCorrection.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from .errors import ImageTooLargeException, InvalidImageFormatException, InvalidParameterException

MAX_INLINE_BYTES = 5 * 1024 * 1024
MAX_S3_BYTES = 15 * 1024 * 1024
MIN_SIDE_PIXELS = 80
# Guard against decompression bombs: 10,000 x 10,000 is far beyond any camera Rekognition serves.
MAX_PIXELS = 100_000_000
ACCEPTED_FORMATS = {"JPEG", "PNG"}

_EXIF_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray  # H x W x 3, uint8, upright
    format: str
    exif_orientation: int | None = None
    _bgr: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)
    _grey: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def bgr(self) -> np.ndarray:
        """The same pixels in OpenCV's channel order, computed once."""
        if not self._bgr:
            self._bgr.append(np.ascontiguousarray(self.rgb[:, :, ::-1]))
        return self._bgr[0]

    def bounding_box(self, box: tuple[float, float, float, float]) -> dict[str, float]:
        """Rekognition's BoundingBox for a pixel box (x, y, w, h): ratios of the image size."""
        x, y, w, h = box
        return {
            "Width": w / self.width,
            "Height": h / self.height,
            "Left": x / self.width,
            "Top": y / self.height,
        }

    @property
    def grey(self) -> np.ndarray:
        """The luminance (OpenCV's weights), computed once."""
        if not self._grey:
            self._grey.append(cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY))
        return self._grey[0]


def decode_image(data: bytes, *, max_bytes: int = MAX_INLINE_BYTES) -> DecodedImage:
    """Decode JPEG/PNG bytes, enforcing Rekognition's limits, and apply EXIF orientation."""
    if not data:
        raise InvalidParameterException("Image bytes are empty.")
    if len(data) > max_bytes:
        raise ImageTooLargeException(
            f"Image size {len(data)} bytes exceeds the {max_bytes} byte limit."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                if fmt not in ACCEPTED_FORMATS:
                    raise InvalidImageFormatException(
                        f"Unsupported image format {fmt or 'unknown'}: use JPEG or PNG."
                    )
                width, height = probe.size
                _check_dimensions(width, height)
                orientation = probe.getexif().get(_EXIF_ORIENTATION_TAG)
                upright = ImageOps.exif_transpose(probe)
                rgb = np.asarray(upright.convert("RGB"))
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageTooLargeException(f"Image has too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImageFormatException("Request has invalid image format.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # Truncated or corrupt data surfaces from PIL as one of these while decoding.
        raise InvalidImageFormatException(f"Request has invalid image format: {exc}") from exc
    return DecodedImage(
        rgb=np.ascontiguousarray(rgb),
        format=fmt,
        exif_orientation=int(orientation) if orientation else None,
    )


def _check_dimensions(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageTooLargeException(
            f"Image is {width}x{height} pixels; at most {MAX_PIXELS} pixels are accepted."
        )
    if min(width, height) < MIN_SIDE_PIXELS:
        raise InvalidParameterException(
            f"Image is {width}x{height} pixels; both sides must be at least "
            f"{MIN_SIDE_PIXELS} pixels."
        )


def load_image(path: str | Path, *, max_bytes: int = MAX_S3_BYTES) -> DecodedImage:
    """Decode an image file from disk (CLI and tests), with the S3 size limit."""
    return decode_image(Path(path).read_bytes(), max_bytes=max_bytes)


def from_array(rgb: np.ndarray) -> DecodedImage:
    """Wrap an already decoded RGB frame (video) without re-encoding it."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidParameterException("Frames must be H x W x 3 uint8 RGB arrays.")
    return DecodedImage(rgb=np.ascontiguousarray(rgb), format="RAW")
