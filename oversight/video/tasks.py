"""What a stored-video job computes frame by frame, and the Get* members it produces.

Each task sees the sampled frames in order and returns its result members at the end; the
results are Rekognition's shapes with timestamps in milliseconds from the start of the video.
Per-image analysis that has an image operation (labels, text, moderation) is injected as a
callable returning that operation's entries, so video and image answers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..analysis import DetectedFace
from ..images import DecodedImage
from .face_search import FaceSearcher, find_faces
from .sources import Frame
from .tracker import Track, Tracker

Describe = Callable[[DecodedImage, DetectedFace], dict[str, Any]]


class FrameTask(Protocol):
    def add(self, frame: Frame, image: DecodedImage) -> None: ...

    def results(self) -> dict[str, Any]: ...


class FaceDetectionTask:
    """GetFaceDetection's Faces: every face in every sampled frame."""

    def __init__(self, describe: Describe, max_side: int) -> None:
        self._describe = describe
        self._max_side = max_side
        self._faces: list[dict[str, Any]] = []

    def add(self, frame: Frame, image: DecodedImage) -> None:
        for face in find_faces(image, self._max_side):
            self._faces.append({"Timestamp": frame.timestamp_ms,
                                "Face": self._describe(image, face)})

    def results(self) -> dict[str, Any]:
        return {"Faces": self._faces}


class FaceSearchTask:
    """GetFaceSearch's Persons: tracked faces whose track matched the collection.

    A track's best match is reported for every frame of the track, so a person identified once
    is found wherever the track follows them (Rekognition reports the same way).
    """

    def __init__(self, searcher: FaceSearcher, describe: Describe) -> None:
        self._searcher = searcher
        self._describe = describe
        self._seen: list[tuple[int, Track, dict[str, Any]]] = []

    def add(self, frame: Frame, image: DecodedImage) -> None:
        for found in self._searcher.process(image):
            person = {
                "Index": found.track.index,
                "BoundingBox": found.face.bounding_box(image),
                "Face": self._describe(image, found.face),
            }
            self._seen.append((frame.timestamp_ms, found.track, person))

    def results(self) -> dict[str, Any]:
        persons = []
        for timestamp, track, person in self._seen:
            matches = track.data["identity"].matches
            if matches:
                persons.append({"Timestamp": timestamp, "Person": person, "FaceMatches": matches})
        return {"Persons": persons}


class PersonTrackingTask:
    """GetPersonTracking's Persons: people boxes with track indexes (and their face when seen)."""

    def __init__(self, find_people: Callable[[DecodedImage], list[dict[str, Any]]]) -> None:
        self._find_people = find_people
        self._tracker = Tracker(min_iou=0.3, max_centre_distance=0.5)
        self._frames = 0
        self._persons: list[dict[str, Any]] = []

    def add(self, frame: Frame, image: DecodedImage) -> None:
        people = self._find_people(image)
        boxes = [_pixels(p["BoundingBox"], image) for p in people]
        for person, track in zip(people, self._tracker.update(self._frames, boxes), strict=True):
            self._persons.append({"Timestamp": frame.timestamp_ms,
                                  "Person": {"Index": track.index, **person}})
        self._frames += 1

    def results(self) -> dict[str, Any]:
        return {"Persons": self._persons}


def _pixels(box: dict[str, float], image: DecodedImage) -> tuple[float, float, float, float]:
    return (box["Left"] * image.width, box["Top"] * image.height,
            box["Width"] * image.width, box["Height"] * image.height)


class PerFrameTask:
    """Entries of an image operation per sampled frame, e.g. DetectLabels' Labels ->
    LabelDetection {Timestamp, Label}, and the model version the operation reported."""

    def __init__(self, analyse: Callable[[DecodedImage], dict[str, Any]], member: str,
                 entry: str, version: str) -> None:
        self._analyse = analyse
        self._member = member
        self._entry = entry
        self._version_member = version
        self._version: str | None = None
        self._entries: list[dict[str, Any]] = []

    def add(self, frame: Frame, image: DecodedImage) -> None:
        response = self._analyse(image)
        self._version = response.get(self._version_member, self._version)
        for item in response[self._member]:
            self._entries.append({"Timestamp": frame.timestamp_ms, self._entry: item})

    def results(self) -> dict[str, Any]:
        results: dict[str, Any] = {self._member: self._entries}
        if self._version is not None:
            results[self._version_member] = self._version
        return results
