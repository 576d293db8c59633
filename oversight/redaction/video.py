"""Redact faces in a video file frame by frame, keeping every frame (count, order, size, rate).

OpenCV decodes and encodes; the output carries no audio track (documented in ACCOUNTABILITY.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InvalidParameterException
from ..images import from_array
from . import Box, SpareRule, check_method, redact_image

# Container suffix -> codec OpenCV's bundled FFmpeg can write.
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


@dataclass(frozen=True)
class VideoRedaction:
    frames: int
    faces_redacted: int
    faces_spared: int
    fps: float
    width: int
    height: int


def redact_video(
    source: Path,
    target: Path,
    method: str = "BLUR",
    spare: SpareRule | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VideoRedaction:
    """Write `target` with every unspared face of `source` obscured; `progress(done, total)`."""
    check_method(method)
    fourcc = _FOURCC.get(target.suffix.lower())
    if fourcc is None:
        raise InvalidParameterException(
            f"cannot write {target.suffix or 'files without a suffix'}: use one of "
            f"{', '.join(sorted(_FOURCC))}"
        )
    reader = cv2.VideoCapture(str(source))
    if not reader.isOpened():
        raise InvalidParameterException(f"{source} is not a video OpenCV can read")
    try:
        return _copy_redacted(reader, target, fourcc, method, spare, progress)
    finally:
        reader.release()


def _copy_redacted(
    reader: cv2.VideoCapture,
    target: Path,
    fourcc: str,
    method: str,
    spare: SpareRule | None,
    progress: Callable[[int, int], None] | None,
) -> VideoRedaction:
    fps = reader.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(reader.get(cv2.CAP_PROP_FRAME_COUNT))
    writer: cv2.VideoWriter | None = None
    frames = redacted = spared = 0
    previous: list[Box] = []
    try:
        while True:
            ok, bgr = reader.read()
            if not ok:
                break
            if writer is None:
                height, width = bgr.shape[:2]
                writer = cv2.VideoWriter(
                    str(target), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height)
                )
                if not writer.isOpened():
                    raise InvalidParameterException(f"cannot write a video to {target}")
            # Last frame's boxes too: a face the detector misses for one frame stays covered.
            result = redact_image(from_array(bgr[:, :, ::-1]), method, spare, extra=previous)
            previous = [r.box for r in result.regions if not r.spared]
            writer.write(np.ascontiguousarray(result.rgb[:, :, ::-1]))
            frames += 1
            redacted += len(previous)
            spared += len(result.regions) - len(previous)
            if progress:
                progress(frames, total)
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise InvalidParameterException("the video holds no frame OpenCV can decode")
    return VideoRedaction(frames, redacted, spared, fps, width, height)
