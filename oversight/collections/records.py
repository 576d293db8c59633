"""Plain records the collections domain hands between its store, service and operations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class Box:
    """Rekognition's BoundingBox: fractions of the image width and height."""

    left: float
    top: float
    width: float
    height: float

    def to_api(self) -> dict[str, float]:
        return {"Width": self.width, "Height": self.height, "Left": self.left, "Top": self.top}


@dataclass(frozen=True)
class Collection:
    pk: int
    uid: str
    account_id: str
    collection_id: str
    face_model: str
    created_at: datetime
    revision: int
    vector_ts: int = 0
    # Which vector it compares (analysis/calibration.py): "fused" or "sface".
    matcher: str = "fused"


@dataclass(frozen=True)
class NewFace:
    """A face about to be stored: its embedding and what Rekognition reports about it."""

    embedding: np.ndarray
    box: Box
    confidence: float
    image_id: str
    external_image_id: str | None = None


@dataclass(frozen=True)
class StoredFace:
    seq: int
    face_id: str
    image_id: str
    external_image_id: str | None
    user_id: str | None
    box: Box
    confidence: float
    indexed_at: datetime


@dataclass(frozen=True)
class FaceMatch:
    face: StoredFace
    cosine: float


@dataclass(frozen=True)
class Deletion:
    """Outcome of `delete_faces`: what went, and why each other face id stayed."""

    deleted: list[StoredFace]
    # face_id -> (user_id or None, reasons) for faces that were not deleted.
    kept: dict[str, tuple[str | None, list[str]]]
