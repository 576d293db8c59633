"""The face pipeline: detect, align and embed faces, and read their attributes as numbers
(operations/face_detail.py puts them in Rekognition's FaceDetail)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import dlib
import numpy as np

from ..images import DecodedImage
from ..models.age_gender import AgeGender, AgeGenderModel
from ..models.dlib_models import DlibResNet, ShapePredictor5
from ..models.emotion import EMOTION_TYPES, EmotionClassifier
from ..models.face_cover import FaceCoverClassifier
from ..models.facemesh import FaceMesh
from ..models.iris import EyeReading, Iris
from ..models.sface import SFace
from ..models.yunet import YuNet
from . import geometry
from .embedding import fuse

# Attribute names of Rekognition's `Attributes` request member that Oversight can answer.
DEFAULT_ATTRIBUTES = frozenset({"Landmarks", "Pose", "Quality"})
ALL_ATTRIBUTES = DEFAULT_ATTRIBUTES | {
    "AgeRange", "Gender", "EyesOpen", "MouthOpen", "Smile", "Emotions", "FaceOccluded",
}
# Request enum values that no shipped model answers: left out of FaceDetail rather than
# guessed, and named per request (api/notices.py) when asked for by name or by ALL.
UNANSWERED_ATTRIBUTES = ("BEARD", "EYE_DIRECTION", "EYEGLASSES", "MUSTACHE", "SUNGLASSES")
# Request enum value -> FaceDetail member.
_NAMED_ATTRIBUTES = {
    "SMILE": "Smile",
    "AGE_RANGE": "AgeRange",
    "GENDER": "Gender",
    "EYES_OPEN": "EyesOpen",
    "MOUTH_OPEN": "MouthOpen",
    "EMOTIONS": "Emotions",
    "FACE_OCCLUDED": "FaceOccluded",
}


def requested_attributes(names: Iterable[str] | None) -> frozenset[str]:
    """FaceDetail members to fill for a request's `Attributes` list (default: DEFAULT)."""
    names = list(names or ["DEFAULT"])
    if "ALL" in names:
        return ALL_ATTRIBUTES
    chosen: set[str] = set()
    for name in names:
        if name == "DEFAULT":
            chosen |= DEFAULT_ATTRIBUTES
        elif name in _NAMED_ATTRIBUTES:
            chosen.add(_NAMED_ATTRIBUTES[name])
    return frozenset(chosen)


def unanswered_attributes(names: Iterable[str] | None) -> list[str]:
    """The request's `Attributes` values (explicit, or implied by ALL) left unanswered."""
    asked = set(names or ())
    return [name for name in UNANSWERED_ATTRIBUTES if name in asked or "ALL" in asked]


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]  # x, y, w, h in pixels
    score: float  # detector confidence, 0-1
    landmarks5: np.ndarray  # right eye, left eye, nose, right/left mouth corner (image order)

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    def bounding_box(self, image: DecodedImage) -> dict[str, float]:
        """Rekognition's BoundingBox: ratios of the image size (may extend past 0-1)."""
        return image.bounding_box(self.box)


def central_face(faces: list[DetectedFace], width: int, height: int) -> DetectedFace:
    """The face nearest the image centre (LFW-style crops centre the named person)."""
    return min(
        faces,
        key=lambda f: (
            abs(f.box[0] + f.box[2] / 2 - width / 2) + abs(f.box[1] + f.box[3] / 2 - height / 2)
        ),
    )


class FaceAnalyzer:
    def __init__(self) -> None:
        self._detector = YuNet()
        self._sface = SFace()
        self._shape5 = ShapePredictor5()
        self._dlib = DlibResNet()
        self._mesh = FaceMesh()
        self._age_gender = AgeGenderModel()
        self._iris = Iris()
        self._emotions = EmotionClassifier()
        self._face_cover = FaceCoverClassifier()

    def detect(self, image: DecodedImage) -> list[DetectedFace]:
        rows = self._detector(image.bgr)
        faces = [
            DetectedFace(
                box=(float(r[0]), float(r[1]), float(r[2]), float(r[3])),
                score=float(r[14]),
                landmarks5=r[4:14].reshape(5, 2).copy(),
            )
            for r in rows
            if r[2] > 0 and r[3] > 0
        ]
        return sorted(faces, key=lambda face: face.area, reverse=True)

    def embed(self, image: DecodedImage, face: DetectedFace) -> np.ndarray:
        """Fused SFace + dlib ResNet embedding (see embedding.py); unit norm."""
        return fuse(*self.component_embeddings(image, face))

    def component_embeddings(
        self, image: DecodedImage, face: DetectedFace
    ) -> tuple[np.ndarray, np.ndarray]:
        """The unit SFace and dlib ResNet vectors that `embed` fuses (calibration weighs them)."""
        sface = self._sface(image.rgb, face.landmarks5)
        dlib_vector = self._dlib(image.rgb, self.shape5(image, face))
        return sface, dlib_vector

    def shape5(self, image: DecodedImage, face: DetectedFace) -> dlib.full_object_detection:
        """dlib's 5-point shape of the face, which places its ResNet and age/gender chips."""
        return self._shape5(image.rgb, face.box)

    def mesh(self, image: DecodedImage, face: DetectedFace) -> np.ndarray:
        """The face's 468 FaceMesh points (x, y in image pixels, z), read by `geometry`."""
        return self._mesh(image.rgb, face.box, face.landmarks5)[0]

    def emotions(self, image: DecodedImage, face: DetectedFace) -> dict[str, float]:
        """Probability (0-1) of each of Rekognition's emotion types (no CONFUSED:
        models.emotion)."""
        probabilities = self._emotions(image.grey, face.box)
        return {name: float(p) for name, p in zip(EMOTION_TYPES, probabilities, strict=True)}

    def emotions_by_network(self, image: DecodedImage, face: DetectedFace) -> dict[str, Any]:
        """Each expression network's probabilities over EMOTION_TYPES (the evaluation compares
        them with the mean that `emotions` reports)."""
        return self._emotions.by_network(image.grey, face.box)

    def face_cover(self, image: DecodedImage, face: DetectedFace) -> float:
        """Probability that a mask covers the face."""
        return self._face_cover(image.rgb, face.box)

    def age_gender(self, image: DecodedImage, face: DetectedFace) -> AgeGender:
        """Expected age, its spread and the probability the face is male."""
        return self._age_gender(image.rgb, self.shape5(image, face))

    def eyes(self, image: DecodedImage, mesh: np.ndarray) -> tuple[EyeReading, EyeReading]:
        """Iris readings of the image-left and image-right eye (`mesh` places them)."""
        left = self._iris(image.rgb, *mesh[list(geometry.LEFT_EYE_CORNERS), :2], mirrored=False)
        right = self._iris(image.rgb, *mesh[list(geometry.RIGHT_EYE_CORNERS), :2], mirrored=True)
        return left, right


@lru_cache(maxsize=1)
def face_analyzer() -> FaceAnalyzer:
    """The process-wide analyzer; models load on first use."""
    return FaceAnalyzer()
