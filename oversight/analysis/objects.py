"""COCO objects (people, animals, vehicles, ...) in an image, with pixel boxes.

The SSD detector (models/coco_ssd.py) reads 300 x 300 pixels: people a tenth of the image tall
are a few pixels wide at that size and are missed. So the image is read whole and in overlapping
square tiles, objects cut by a tile's inner edge are dropped (another tile sees them whole), and
the duplicates of one object are merged by NMS.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..models.coco_ssd import CocoSSD

# A tile's side as a share of the image's short side, and the step between tiles as a share of
# the side. Measured on COCO8 (bench/labels.py): smaller tiles find no more people, only more
# false ones.
_TILE_SIDE = 0.75
_TILE_STEP = 0.67
# A box this close (share of the tile) to a tile edge inside the image is a cut-off object.
_EDGE = 0.01
_NMS_IOU = 0.5


@dataclass(frozen=True)
class DetectedObject:
    name: str  # COCO class name, as in the package's label file ("person", "horse")
    score: float  # 0-1
    box: tuple[float, float, float, float]  # x, y, w, h pixels


# The process-wide detector, loaded on first use.
_DETECTOR = CocoSSD()


def _tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Overlapping square tiles (x, y, side) covering the image."""
    side = int(min(width, height) * _TILE_SIDE)
    step = max(1, int(side * _TILE_STEP))

    def starts(extent: int) -> list[int]:
        return sorted({*range(0, extent - side + 1, step), extent - side})

    return [(x, y, side) for x in starts(width) for y in starts(height)]


def detect_objects(rgb: np.ndarray, min_score: float) -> list[DetectedObject]:
    """COCO objects in the whole image and in its tiles, most confident first, duplicates of
    one object (same class, IoU >= 0.5) merged by NMS."""
    height, width = rgb.shape[:2]
    found: list[DetectedObject] = []
    for x, y, side in [(0, 0, 0), *_tiles(width, height)]:
        crop = rgb[y : y + side, x : x + side] if side else rgb
        crop_h, crop_w = crop.shape[:2]
        for name, score, (top, left, bottom, right) in _DETECTOR(crop):
            if score < min_score:
                continue
            # An object cut by a tile edge inside the image is seen whole elsewhere.
            if side and (
                (left < _EDGE and x > 0)
                or (top < _EDGE and y > 0)
                or (right > 1 - _EDGE and x + side < width)
                or (bottom > 1 - _EDGE and y + side < height)
            ):
                continue
            # Plain floats: the boxes end up in JSON (API answers, stored video results).
            box = (float(x + left * crop_w), float(y + top * crop_h),
                   float((right - left) * crop_w), float((bottom - top) * crop_h))
            found.append(DetectedObject(name, float(score), box))
    kept: list[DetectedObject] = []
    for name in {f.name for f in found}:
        same = [f for f in found if f.name == name]
        keep = cv2.dnn.NMSBoxes([list(f.box) for f in same], [f.score for f in same], 0.0,
                                _NMS_IOU)
        kept += [same[i] for i in np.asarray(keep, dtype=int).ravel()]
    return sorted(kept, key=lambda f: -f.score)
