"""Decode and validate every input image once.

Rekognition accepts JPEG and PNG, at most 5 MB as inline bytes (15 MB from S3), each side at
least 80 pixels (and at most 10,000 for DetectLabels and DetectModerationLabels; Oversight
applies that maximum to every image). The work per image is bounded before any pixel is decoded:
the sides are read from the header, and a JPEG of more than MAX_DECODED_PIXELS is decoded at
1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, PIL's `draft`), so a 9400x9400 upload costs what a
2350x2350 one does. A PNG cannot be reduced while decoding, so one over MAX_DECODED_PIXELS is
refused (ImageTooLargeException). Images are returned upright (EXIF orientation applied) as RGB
uint8 arrays, so every coordinate refers to the upright image; like Rekognition today,
responses then carry no OrientationCorrection. Responses give boxes as ratios of the image, so a
reduced decode changes no coordinate a client sees.
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
from .rekognition import PixelBox, bounding_box

MAX_INLINE_BYTES = 5 * 1024 * 1024
MAX_S3_BYTES = 15 * 1024 * 1024
MIN_SIDE_PIXELS = 80
MAX_SIDE_PIXELS = 10_000
# Rekognition states no aspect limit, but detectors tile or letterbox the long side: 10000x80
# cost DetectLabels 500 detector runs and broke DetectText. Wider than 20:1 is no photograph.
MAX_ASPECT_RATIO = 20
# What one image may cost once decoded (38 MB as RGB): a 12 MP phone photo is decoded whole.
MAX_DECODED_PIXELS = 4096 * 3072
ACCEPTED_FORMATS = {"JPEG", "PNG"}
# The scales libjpeg can decode at, largest first.
_JPEG_REDUCTIONS = (1, 2, 4, 8)

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

    def bounding_box(self, box: PixelBox) -> dict[str, float]:
        """Rekognition's BoundingBox for a pixel box (x, y, w, h) in this image."""
        return bounding_box(box, self.width, self.height)

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
            # The limits below are stricter, and a large JPEG is decoded reduced: PIL's warning
            # for its pixel count (at open, before any reduction) is no refusal.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                if fmt not in ACCEPTED_FORMATS:
                    raise InvalidImageFormatException(
                        f"Unsupported image format {fmt or 'unknown'}: use JPEG or PNG."
                    )
                _check_dimensions(*probe.size)
                _reduce_while_decoding(probe)
                orientation = probe.getexif().get(_EXIF_ORIENTATION_TAG)
                upright = ImageOps.exif_transpose(probe)
                rgb = np.asarray(upright.convert("RGB"))
    except PILImage.DecompressionBombError as exc:
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
    if max(width, height) > MAX_SIDE_PIXELS:
        raise ImageTooLargeException(
            f"Image is {width}x{height} pixels; each side may be at most {MAX_SIDE_PIXELS}."
        )
    if min(width, height) < MIN_SIDE_PIXELS:
        raise InvalidParameterException(
            f"Image is {width}x{height} pixels; both sides must be at least "
            f"{MIN_SIDE_PIXELS} pixels."
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise InvalidParameterException(
            f"Image is {width}x{height} pixels; the long side may be at most "
            f"{MAX_ASPECT_RATIO} times the short one."
        )


def _reduce_while_decoding(probe: PILImage.Image) -> None:
    """Make `probe` decode to at most MAX_DECODED_PIXELS, or refuse it (before decoding)."""
    width, height = probe.size
    if width * height <= MAX_DECODED_PIXELS:
        return
    if probe.format == "JPEG":
        factor = next(
            (f for f in _JPEG_REDUCTIONS if -(-width // f) * -(-height // f) <= MAX_DECODED_PIXELS),
            None,
        )
        if factor is not None:
            # draft takes the strongest reduction that still gives at least the size asked.
            probe.draft("RGB", (width // factor, height // factor))
    reduced_width, reduced_height = probe.size
    if reduced_width * reduced_height <= MAX_DECODED_PIXELS:
        return
    raise ImageTooLargeException(
        f"Image is {width}x{height} pixels; a {probe.format} image may have at most "
        f"{MAX_DECODED_PIXELS} pixels (JPEGs are decoded at a reduced scale instead)."
    )


def load_image(path: str | Path, *, max_bytes: int = MAX_S3_BYTES) -> DecodedImage:
    """Decode an image file from disk (CLI and tests), with the S3 size limit."""
    return decode_image(Path(path).read_bytes(), max_bytes=max_bytes)


def from_array(rgb: np.ndarray) -> DecodedImage:
    """Wrap an already decoded RGB frame (video) without re-encoding it."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidParameterException("Frames must be H x W x 3 uint8 RGB arrays.")
    return DecodedImage(rgb=np.ascontiguousarray(rgb), format="RAW")
