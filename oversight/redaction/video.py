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
from . import SpareRule, check_method, obscure, plan

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
    previous: list[tuple[int, int, int, int]] = []
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
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            regions = plan(from_array(rgb), spare)
            boxes = [r.box for r in regions if not r.spared]
            # Last frame's boxes too: a face the detector misses for one frame stays covered.
            obscure(rgb, boxes + previous, method)
            previous = boxes
            writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
            frames += 1
            redacted += len(boxes)
            spared += len(regions) - len(boxes)
            if progress:
                progress(frames, total)
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise InvalidParameterException("the video holds no frame OpenCV can decode")
    return VideoRedaction(frames, redacted, spared, fps, width, height)
