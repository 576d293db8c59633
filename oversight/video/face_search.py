"""Faces in video frames: detection on a scaled-down copy, then tracking and collection search.

Detection cost grows with the pixel count, so frames are detected at `max_side` pixels and the
boxes and landmarks mapped back; embeddings and attributes still read full-resolution pixels.
Each face track is embedded when it appears and, until it matches, again every
`reembed_every` frames or as soon as it has grown to 1.5x the area it was embedded at (a person
walking towards the camera shows more of their face); its best match stands for every frame of
the track. Embedding is the
expensive step, so live video embeds at most `max_embeds` faces per frame (tracks never
embedded first, then the largest; None: no limit, for stored video) and faces smaller than
`min_side` pixels are tracked but not searched: a crowd entering the picture is identified over
a few frames instead of stalling one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2

from ..analysis import DetectedFace, face_analyzer
from ..images import DecodedImage, from_array
from .tracker import Track, Tracker

# Faces narrower than this (pixels) are tracked but not searched: embeddings of smaller faces
# are unreliable, and skipping them keeps live search in real time.
MIN_SEARCH_SIDE = 40.0
# An unmatched track is searched again once its face has grown this much (area ratio).
_GROWTH = 1.5
# A collection search: embedding -> Rekognition FaceMatch dicts, best first.
Search = Callable[[Any], list[dict[str, Any]]]


def find_faces(image: DecodedImage, max_side: int) -> list[DetectedFace]:
    """Faces in full-image pixel coordinates, largest first."""
    scale = max_side / max(image.width, image.height)
    analyzer = face_analyzer()
    if scale >= 1.0:
        return analyzer.detect(image)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = from_array(cv2.resize(image.rgb, size, interpolation=cv2.INTER_AREA))
    return [
        DetectedFace(
            box=(face.box[0] / scale, face.box[1] / scale, face.box[2] / scale,
                 face.box[3] / scale),
            score=face.score,
            landmarks5=face.landmarks5 / scale,
        )
        for face in analyzer.detect(small)
    ]


def track_faces(tracker: Tracker, frame_number: int, faces: list[DetectedFace]) -> list[Track]:
    return tracker.update(frame_number, [face.box for face in faces])


@dataclass
class Identity:
    """What a face track has been matched to so far."""

    matches: list[dict[str, Any]] = field(default_factory=list)
    embedded_at: int = -1
    embedded_area: float = 0.0
    matched_at: int | None = None

    @property
    def best_similarity(self) -> float:
        return float(self.matches[0]["Similarity"]) if self.matches else 0.0


@dataclass(frozen=True)
class SearchedFace:
    face: DetectedFace
    track: Track
    identity: Identity
    newly_matched: bool


class FaceSearcher:
    """Detect, track and identify faces frame after frame against one collection."""

    def __init__(self, search: Search, max_side: int, reembed_every: int = 3,
                 max_embeds: int | None = 2, min_side: float = MIN_SEARCH_SIDE,
                 tracker: Tracker | None = None,
                 admit: Callable[[DecodedImage, DetectedFace], bool] | None = None) -> None:
        self._search = search
        # Whether a face may be searched at all (a key's protective policy for minors).
        self._admit = admit
        self._max_embeds = max_embeds
        self._min_side = min_side
        self._max_side = max_side
        self._reembed_every = reembed_every
        self._tracker = tracker or Tracker()
        self._frames = 0

    def process(self, image: DecodedImage) -> list[SearchedFace]:
        """Detect, track and identify the faces of the next frame."""
        return self.identify(image, self.track(image))

    def track(self, image: DecodedImage) -> list[SearchedFace]:
        """Detect and track the next frame's faces, with what their tracks already matched:
        cheap, so a live processor can report known people before identifying new ones."""
        number = self._frames
        self._frames += 1
        faces = find_faces(image, self._max_side)
        tracks = track_faces(self._tracker, number, faces)
        return [SearchedFace(face, track, track.data.setdefault("identity", Identity()), False)
                for face, track in zip(faces, tracks, strict=True)]

    def identify(self, image: DecodedImage, found: list[SearchedFace]) -> list[SearchedFace]:
        """Search the collection for the tracked faces that are due; `newly_matched` marks the
        tracks that matched for the first time."""
        number = self._frames - 1
        due = sorted(
            (i for i, f in enumerate(found)
             if min(f.face.box[2], f.face.box[3]) >= self._min_side and (
                 f.identity.embedded_at < 0
                 or (not f.identity.matches
                     and (number - f.identity.embedded_at >= self._reembed_every
                          or f.face.area >= _GROWTH * f.identity.embedded_area)))),
            key=lambda i: (found[i].identity.embedded_at >= 0, -found[i].face.area),
        )[: self._max_embeds]
        newly: set[int] = set()
        for i in due:
            identity = found[i].identity
            identity.embedded_at = number
            identity.embedded_area = found[i].face.area
            if self._admit is not None and not self._admit(image, found[i].face):
                continue  # judged again when due again, like a face that did not match
            matches = self._search(face_analyzer().embed(image, found[i].face))
            if matches and float(matches[0]["Similarity"]) > identity.best_similarity:
                if not identity.matches:
                    newly.add(i)
                identity.matches = matches
                identity.matched_at = number
        return [SearchedFace(f.face, f.track, f.identity, i in newly)
                for i, f in enumerate(found)]
