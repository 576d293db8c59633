"""Track ids across frames: greedy box association by overlap, with a distance fallback.

Sampled video (a few frames per second) moves faces and people further between frames than
full-rate trackers expect, so a detection that does not overlap its track enough may still join
it when its centre is close relative to the box size. A track that is not seen for `max_missed`
frames ends; a later detection starts a new track (with a new index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..boxes import iou

Box = tuple[float, float, float, float]  # x, y, w, h


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between centres in units of the boxes' mean side length."""
    dx = (a[0] + a[2] / 2) - (b[0] + b[2] / 2)
    dy = (a[1] + a[3] / 2) - (b[1] + b[3] / 2)
    scale = math.sqrt(max(a[2] * a[3], 1.0)) / 2 + math.sqrt(max(b[2] * b[3], 1.0)) / 2
    return math.hypot(dx, dy) / scale


@dataclass
class Track:
    index: int
    box: Box
    last_frame: int
    hits: int = 1
    # What the caller attaches to a track (e.g. its embedding and best matches).
    data: dict[str, Any] = field(default_factory=dict)


class Tracker:
    def __init__(
        self, min_iou: float = 0.2, max_centre_distance: float = 0.75, max_missed: int = 3
    ) -> None:
        self.min_iou = min_iou
        self.max_centre_distance = max_centre_distance
        self.max_missed = max_missed
        self._tracks: list[Track] = []
        self._next_index = 0

    def _score(self, track: Track, box: Box) -> float | None:
        """Higher is a better match; None when the box cannot belong to the track."""
        overlap = float(iou(track.box, box)[0, 0])
        if overlap >= self.min_iou:
            return 1.0 + overlap
        distance = _centre_distance(track.box, box)
        if distance <= self.max_centre_distance:
            return 1.0 - distance / (self.max_centre_distance + 1e-9)
        return None

    def update(self, frame: int, boxes: list[Box]) -> list[Track]:
        """Assign each box of `frame` to a track (new or continued); returns them in box order."""
        self._tracks = [t for t in self._tracks if frame - t.last_frame <= self.max_missed]
        candidates = [
            (score, ti, bi)
            for ti, track in enumerate(self._tracks)
            for bi, box in enumerate(boxes)
            if (score := self._score(track, box)) is not None
        ]
        assigned: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for _, ti, bi in sorted(candidates, reverse=True):
            if ti in used_tracks or bi in assigned:
                continue
            used_tracks.add(ti)
            track = self._tracks[ti]
            track.box, track.last_frame, track.hits = boxes[bi], frame, track.hits + 1
            assigned[bi] = track
        for bi, box in enumerate(boxes):
            if bi not in assigned:
                track = Track(self._next_index, box, frame)
                self._next_index += 1
                self._tracks.append(track)
                assigned[bi] = track
        return [assigned[bi] for bi in range(len(boxes))]
