"""Frames from videos: stored files sampled at a fixed rate, and live sources read in real time.

OpenCV's bundled FFmpeg decodes everything here (MP4/MOV/MKV files, RTSP, HTTP MJPEG and HLS),
so there is one decoder for stored and live video. Live sources are read by a thread that keeps
only the newest frame: analysis that falls behind skips frames instead of drifting into the past.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InvalidParameterException

# Prefer TCP for RTSP (no lost UDP packets on a busy host); FFmpeg reads this at open time.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

OPEN_TIMEOUT_MS = 10_000
READ_TIMEOUT_MS = 10_000
LIVE_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")


@dataclass(frozen=True)
class Frame:
    index: int  # frame number in the source (live: frames read so far)
    timestamp_ms: int  # position in the video
    rgb: np.ndarray
    captured_at: float  # time.time() when the frame was decoded, for end-to-end latency

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    duration_ms: int
    format: str
    frame_rate: float
    width: int
    height: int
    frame_count: int

    def to_api(self) -> dict[str, Any]:
        """Rekognition's VideoMetadata."""
        return {
            "Codec": self.codec,
            "DurationMillis": self.duration_ms,
            "Format": self.format,
            "FrameRate": self.frame_rate,
            "FrameHeight": self.height,
            "FrameWidth": self.width,
            "ColorRange": "LIMITED",
        }


def _capture(uri: str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(
        uri,
        cv2.CAP_FFMPEG,
        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
         READ_TIMEOUT_MS],
    )
    if not capture.isOpened():
        capture.release()
        raise InvalidParameterException(f"Cannot open video {uri}: unreadable or unsupported")
    return capture


def _container_format(path: Path) -> str:
    """Rekognition's Format string, from the container's magic bytes."""
    with path.open("rb") as handle:
        head = handle.read(12)
    if head[4:8] == b"ftyp":
        return "QuickTime / MOV"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska / WebM"
    if head[:4] == b"RIFF":
        return "AVI"
    return "unknown"


def _fourcc(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    return code.to_bytes(4, "little").decode("ascii", "replace").strip("\x00 ").lower()


def probe(path: Path) -> VideoInfo:
    """Codec, duration, size and rate of a stored video (InvalidParameterException if none)."""
    capture = _capture(str(path))
    try:
        rate = float(capture.get(cv2.CAP_PROP_FPS)) or 0.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        codec = _fourcc(capture)
    finally:
        capture.release()
    if rate <= 0 or width <= 0 or height <= 0:
        raise InvalidParameterException(f"{path.name} has no readable video stream")
    return VideoInfo(
        codec=codec,
        duration_ms=int(round(count * 1000.0 / rate)),
        format=_container_format(path),
        frame_rate=rate,
        width=width,
        height=height,
        frame_count=count,
    )


def sampling_step(info: VideoInfo, sample_fps: float) -> int:
    """Every how many frames one is analysed to get about `sample_fps` frames per second."""
    return max(1, round(info.frame_rate / sample_fps)) if sample_fps > 0 else 1


def sample_frames(path: Path, info: VideoInfo, step: int) -> Iterator[Frame]:
    """Every `step`-th frame of a stored video, in order; the others are demuxed, not converted."""
    capture = _capture(str(path))
    try:
        index = 0
        while capture.grab():
            if index % step == 0:
                ok, bgr = capture.retrieve()
                if ok:
                    yield Frame(
                        index=index,
                        timestamp_ms=int(round(index * 1000.0 / info.frame_rate)),
                        rgb=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                        captured_at=time.time(),
                    )
            index += 1
    finally:
        capture.release()


class LiveSource:
    """The newest frame of a live stream (RTSP, HTTP MJPEG/HLS) or of a file played in real time.

    A reader thread decodes continuously; `frames()` yields each new frame once, skipping those
    that arrived while the caller was busy. The stream ends when the source ends or `close()`.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._realtime_file = not uri.startswith(LIVE_SCHEMES)
        path = uri.removeprefix("file://")
        self._capture = _capture(path if self._realtime_file else uri)
        self._fps = float(self._capture.get(cv2.CAP_PROP_FPS)) or 25.0
        self._condition = threading.Condition()
        # The newest decoded frame, still in BGR: (index, timestamp ms, pixels, decoded at).
        self._latest: tuple[int, int, np.ndarray, float] | None = None
        self._closed = False
        self.error: str | None = None
        self._thread = threading.Thread(target=self._read, name=f"live-source {uri}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        started = time.monotonic()
        index = 0
        try:
            while not self._closed:
                ok, bgr = self._capture.read()
                if not ok:
                    break
                position = self._capture.get(cv2.CAP_PROP_POS_MSEC)
                timestamp = int(position) if position > 0 else int(index * 1000 / self._fps)
                if self._realtime_file:
                    # Play a file at its own pace, as a camera would deliver it.
                    delay = started + timestamp / 1000.0 - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                # Kept in BGR: most frames are replaced before anyone reads them, so colour
                # conversion waits until `frames()` hands one out.
                latest = (index, timestamp, bgr, time.time())
                with self._condition:
                    self._latest = latest
                    self._condition.notify_all()
                index += 1
        except cv2.error as exc:
            self.error = str(exc)
        finally:
            self._capture.release()
            with self._condition:
                self._closed = True
                self._condition.notify_all()

    def frames(self) -> Iterator[Frame]:
        last = -1
        while True:
            with self._condition:
                while not self._closed and (self._latest is None or self._latest[0] == last):
                    self._condition.wait(timeout=1.0)
                latest = self._latest
                if latest is None or latest[0] == last:
                    return
            index, timestamp, bgr, decoded_at = latest
            last = index
            yield Frame(index, timestamp, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), decoded_at)

    def close(self, wait: bool = True) -> None:
        """End `frames()` now; with `wait`, also until the reader has let go of the stream."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        if wait:
            self._thread.join(timeout=READ_TIMEOUT_MS / 1000 + 1)
