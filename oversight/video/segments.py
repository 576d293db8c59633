"""Segment detection without a model: shot changes from colour-histogram jumps between frames,
black frames from the share of dark pixels (Rekognition's BlackFrame filter semantics).

Both are measured on every analysed frame; a shot boundary's confidence grows with how far the
two frames' histograms are apart (Bhattacharyya distance), so MinSegmentConfidence filters
soft cuts out the way Rekognition's does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..images import DecodedImage
from .sources import Frame, VideoInfo

SEGMENT_MODEL_VERSION = "oversight-histogram-1"
# Histogram distance at which a cut is certain (confidence 100); half of it scores 50.
_CUT_DISTANCE = 0.5
DEFAULT_MIN_CONFIDENCE = 80.0
DEFAULT_BLACK_PIXEL_THRESHOLD = 0.2  # of the luma range
DEFAULT_BLACK_COVERAGE = 99.0  # percent of pixels


@dataclass(frozen=True)
class SegmentFilters:
    shot_min_confidence: float = DEFAULT_MIN_CONFIDENCE
    cue_min_confidence: float = DEFAULT_MIN_CONFIDENCE
    black_pixel_threshold: float = DEFAULT_BLACK_PIXEL_THRESHOLD
    black_coverage: float = DEFAULT_BLACK_COVERAGE

    @classmethod
    def from_request(cls, filters: dict[str, Any] | None) -> SegmentFilters:
        filters = filters or {}
        shot = filters.get("ShotFilter") or {}
        cue = filters.get("TechnicalCueFilter") or {}
        black = cue.get("BlackFrame") or {}
        return cls(
            shot_min_confidence=shot.get("MinSegmentConfidence", DEFAULT_MIN_CONFIDENCE),
            cue_min_confidence=cue.get("MinSegmentConfidence", DEFAULT_MIN_CONFIDENCE),
            black_pixel_threshold=black.get("MaxPixelThreshold", DEFAULT_BLACK_PIXEL_THRESHOLD),
            black_coverage=black.get("MinCoveragePercentage", DEFAULT_BLACK_COVERAGE),
        )


def smpte(frame_index: int, fps: float) -> str:
    """Non-drop-frame SMPTE timecode HH:MM:SS:FF."""
    nominal = max(1, round(fps))
    seconds, frames = divmod(frame_index, nominal)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def _histogram(rgb: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [32, 32], [0, 180, 0, 256])
    return cv2.normalize(hist, hist).flatten()


class SegmentTask:
    def __init__(self, info: VideoInfo, types: list[str], filters: SegmentFilters) -> None:
        self._info = info
        self._types = types
        self._filters = filters
        self._previous: np.ndarray | None = None
        self._cuts: list[tuple[int, float]] = [(0, 100.0)]  # (first frame of a shot, confidence)
        self._dark: list[float] = []  # percent of dark pixels per analysed frame
        self._indexes: list[int] = []

    def add(self, frame: Frame, image: DecodedImage) -> None:
        histogram = _histogram(image.rgb)
        if self._previous is not None:
            distance = cv2.compareHist(self._previous, histogram, cv2.HISTCMP_BHATTACHARYYA)
            confidence = min(100.0, 100.0 * distance / _CUT_DISTANCE)
            if confidence >= self._filters.shot_min_confidence:
                self._cuts.append((frame.index, confidence))
        self._previous = histogram
        luma = cv2.cvtColor(image.rgb, cv2.COLOR_RGB2GRAY)
        dark = float(np.mean(luma <= self._filters.black_pixel_threshold * 255)) * 100.0
        self._dark.append(dark)
        self._indexes.append(frame.index)

    def _segment(self, kind: str, start: int, end: int) -> dict[str, Any]:
        """A segment from frame `start` to frame `end` inclusive."""
        fps = self._info.frame_rate
        start_ms = round(start * 1000 / fps)
        end_ms = round((end + 1) * 1000 / fps)
        return {
            "Type": kind,
            "StartTimestampMillis": start_ms,
            "EndTimestampMillis": end_ms,
            "DurationMillis": end_ms - start_ms,
            "StartTimecodeSMPTE": smpte(start, fps),
            "EndTimecodeSMPTE": smpte(end + 1, fps),
            "DurationSMPTE": smpte(end + 1 - start, fps),
            "StartFrameNumber": start,
            "EndFrameNumber": end,
            "DurationFrames": end + 1 - start,
        }

    def _last_frame(self) -> int:
        return max(self._info.frame_count - 1, self._indexes[-1] if self._indexes else 0)

    def _shots(self) -> list[dict[str, Any]]:
        shots = []
        bounds = self._cuts + [(self._last_frame() + 1, 0.0)]
        for number, ((start, confidence), (following, _)) in enumerate(
            zip(bounds, bounds[1:], strict=False)
        ):
            segment = self._segment("SHOT", start, following - 1)
            segment["ShotSegment"] = {"Index": number, "Confidence": confidence}
            shots.append(segment)
        return shots

    def _black_frames(self) -> list[dict[str, Any]]:
        runs, start = [], None
        black_flags = [dark >= self._filters.black_coverage for dark in self._dark]
        for position, black in enumerate(black_flags + [False]):
            if black and start is None:
                start = position
            elif not black and start is not None:
                end_index = (self._indexes[position] - 1 if position < len(self._indexes)
                             else self._last_frame())
                runs.append((self._indexes[start], end_index, self._dark[start:position]))
                start = None
        cues = []
        for first, last, darkness in runs:
            # How uniformly dark the run is: all pixels dark in every frame scores 100.
            confidence = float(np.mean(darkness))
            if confidence >= self._filters.cue_min_confidence:
                segment = self._segment("TECHNICAL_CUE", first, last)
                segment["TechnicalCueSegment"] = {"Type": "BlackFrames", "Confidence": confidence}
                cues.append(segment)
        return cues

    def results(self) -> dict[str, Any]:
        segments: list[dict[str, Any]] = []
        if "TECHNICAL_CUE" in self._types:
            segments += self._black_frames()
        if "SHOT" in self._types:
            segments += self._shots()
        segments.sort(key=lambda s: (s["StartTimestampMillis"], s["Type"]))
        return {
            "Segments": segments,
            "SelectedSegmentTypes": [
                {"Type": kind, "ModelVersion": SEGMENT_MODEL_VERSION} for kind in self._types
            ],
        }
