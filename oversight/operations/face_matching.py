"""What the face handlers (collections, users, video, redaction, CompareFaces) share about faces:
the faces of a request image with their FaceDetail and quality-filter reasons, the searched face,
matches at or above a Similarity threshold, and a stored face in Rekognition's Face shape."""

from __future__ import annotations

from typing import Any

from ..analysis import FACE_MODEL_VERSION, face_analyzer
from ..collections import StoredFace
from ..errors import InvalidParameterException
from ..images import DecodedImage
from .face_detail import face_detail
from .quality_filter import NEEDED_ATTRIBUTES, quality_reasons


def face_api(face: StoredFace) -> dict[str, Any]:
    """Rekognition's Face shape for a stored face."""
    shaped: dict[str, Any] = {
        "FaceId": face.face_id,
        "BoundingBox": face.box.to_api(),
        "ImageId": face.image_id,
        "Confidence": face.confidence,
        "IndexFacesModelVersion": FACE_MODEL_VERSION,
    }
    if face.external_image_id is not None:
        shaped["ExternalImageId"] = face.external_image_id
    if face.user_id is not None:
        shaped["UserId"] = face.user_id
    return shaped


def analyse_faces(
    image: DecodedImage, wanted: frozenset[str], quality_filter: str
) -> list[tuple[Any, dict[str, Any], list[str]]]:
    """(face, FaceDetail with the `wanted` members, quality reasons) per face, largest first."""
    analyzer = face_analyzer()
    needed = wanted | (NEEDED_ATTRIBUTES if quality_filter != "NONE" else frozenset())
    results = []
    for face in analyzer.detect(image):
        detail = face_detail(image, face, needed, analyzer)
        reasons = quality_reasons(detail, image.width, image.height, quality_filter)
        for member in needed - wanted:
            detail.pop(member, None)
        results.append((face, detail, reasons))
    return results


def searched_face(
    image: DecodedImage, quality_filter: str, wanted: frozenset[str] = frozenset()
) -> tuple[Any, dict[str, Any], list[tuple[dict[str, Any], list[str]]]]:
    """The largest face passing the filter, its detail, and (detail, reasons) of the others."""
    faces = analyse_faces(image, wanted, quality_filter)
    if not faces:
        raise InvalidParameterException("There are no faces in the image. Should be at least 1.")
    passing = [entry for entry in faces if not entry[2]]
    if not passing:
        raise InvalidParameterException("No face in the image passed the quality filter")
    face, detail, _ = passing[0]
    others = [(d, reasons or ["FACE_NOT_LARGEST"]) for f, d, reasons in faces if f is not face]
    return face, detail, others
