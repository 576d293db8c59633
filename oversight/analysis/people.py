"""Person instances (bounding boxes) from the COCO object detector and from BlazePose.

The COCO detector (SSD MobileNetV2, whole image and tiles) finds small and partly hidden people
that BlazePose misses; BlazePose finds people the detector misses, riders above all (on COCO8
the two find different people, bench/labels.py). A BlazePose person is kept unless a detector
box already holds them.

BlazePose runs a detector, then body landmarks. Its box is the extent of the landmarks the
model sees as visible, widened to the body's outline (landmarks are joints, not the skin or
clothes around them) and raised from the eyes to the top of the head. The detector reads a
224-px letterbox, so besides the whole image it also reads overlapping tiles, which finds
people down to about a tenth of the image height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..evaluation.boxes import iou
from ..images import DecodedImage
from ..models.blazepose import PoseCandidate, PoseDetector, PoseLandmarks
from .objects import DetectedObject, detect_objects

# COCO detector boxes below this score are not reported (chosen on COCO8 with bench/labels.py:
# lower adds false people, higher loses the small ones).
MIN_OBJECT_SCORE = 0.3
MIN_DETECTION_SCORE = 0.5
MIN_PRESENCE = 0.5
MIN_VISIBILITY = 0.9
# Joints -> outline: widen by this share of the box width on each side and lengthen the
# bottom by this share of its height (feet and hands reach past the ankle/wrist points).
_SIDE_MARGIN = 0.1
_BOTTOM_MARGIN = 0.05
# Head top above the eyes, as a multiple of the eye-to-shoulder distance.
_HEAD_ABOVE_EYES = 0.6
# Tiles: 2 x 2 with this overlap share, so a person cut by one tile edge is whole in another.
_TILE_OVERLAP = 0.25
_DUPLICATE_IOU = 0.5
# Share of the smaller person box inside the larger one that makes them one person.
_DUPLICATE_SHARE = 0.6
# BlazePose landmark indices.
_EYES = (2, 5)
_SHOULDERS = (11, 12)

_DETECTOR = PoseDetector()
_LANDMARKS = PoseLandmarks()


@dataclass(frozen=True)
class DetectedPerson:
    box: tuple[float, float, float, float]  # x, y, w, h pixels, inside the image
    score: float  # 0-1


def _tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The whole image, then 2 x 2 overlapping tiles (x, y, w, h)."""
    tile_w = int(width * (0.5 + _TILE_OVERLAP / 2))
    tile_h = int(height * (0.5 + _TILE_OVERLAP / 2))
    tiles = [(0, 0, width, height)]
    for x in (0, width - tile_w):
        for y in (0, height - tile_h):
            tiles.append((x, y, tile_w, tile_h))
    return tiles


def _shifted(candidate: PoseCandidate, dx: float, dy: float) -> PoseCandidate:
    x, y, w, h = candidate.face_box
    return PoseCandidate(
        candidate.score, (x + dx, y + dy, w, h), candidate.keypoints + np.array([dx, dy])
    )


def _body_box(
    points: np.ndarray, visibility: np.ndarray, face: tuple[float, ...], width: int, height: int
) -> tuple[float, float, float, float]:
    seen = points[visibility >= MIN_VISIBILITY]
    if len(seen) < 3:
        seen = points
    # The detector's face box is part of the person even when the landmarks disagree.
    seen = np.vstack([seen, [face[0], face[1]], [face[0] + face[2], face[1] + face[3]]])
    (left, top), (right, bottom) = seen.min(axis=0), seen.max(axis=0)
    eyes = points[list(_EYES)].mean(axis=0)
    shoulders = points[list(_SHOULDERS)].mean(axis=0)
    top = min(top, eyes[1] - _HEAD_ABOVE_EYES * float(np.linalg.norm(shoulders - eyes)))
    w, h = right - left, bottom - top
    left, right = left - _SIDE_MARGIN * w, right + _SIDE_MARGIN * w
    bottom += _BOTTOM_MARGIN * h
    left, top = max(0.0, float(left)), max(0.0, float(top))
    right, bottom = min(float(width), float(right)), min(float(height), float(bottom))
    return left, top, max(0.0, right - left), max(0.0, bottom - top)


def detect_people(
    image: DecodedImage, objects: list[DetectedObject] | None = None
) -> list[DetectedPerson]:
    """People in the image, most confident first. `objects` are the COCO detector's findings
    when the caller already has them (any score); None runs the detector here."""
    if objects is None:
        objects = detect_objects(image.rgb, MIN_OBJECT_SCORE)
    people = [
        DetectedPerson(o.box, o.score)
        for o in objects
        if o.name == "person" and o.score >= MIN_OBJECT_SCORE
    ]
    for person in _blazepose_people(image):
        if not any(_same_person(person.box, p.box) for p in people):
            people.append(person)
    return sorted(people, key=lambda p: -p.score)


def _blazepose_people(image: DecodedImage) -> list[DetectedPerson]:
    candidates: list[PoseCandidate] = []
    for x, y, w, h in _tiles(image.width, image.height):
        for found in _DETECTOR(image.rgb[y : y + h, x : x + w], MIN_DETECTION_SCORE):
            found = _shifted(found, x, y)
            if (
                not candidates
                or iou(found.face_box, [c.face_box for c in candidates]).max() < _DUPLICATE_IOU
            ):
                candidates.append(found)
    people: list[DetectedPerson] = []
    for candidate in sorted(candidates, key=lambda c: -c.score):
        points, visibility, presence = _LANDMARKS(image.rgb, candidate)
        if presence < MIN_PRESENCE:
            continue
        box = _body_box(points, visibility, candidate.face_box, image.width, image.height)
        if box[2] <= 0 or box[3] <= 0:
            continue
        if not any(_same_person(box, p.box) for p in people):
            people.append(DetectedPerson(box, candidate.score * presence))
    return people


def _same_person(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Two readings of one person: most of the smaller box lies inside the larger one (tiles
    at different scales disagree on hidden legs, which leaves their IoU low)."""
    overlap_w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    overlap_h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if overlap_w <= 0 or overlap_h <= 0:
        return False
    return overlap_w * overlap_h > _DUPLICATE_SHARE * min(a[2] * a[3], b[2] * b[3])
