"""DetectFaces and CompareFaces."""

from __future__ import annotations

from typing import Any

from ..analysis import face_analyzer, requested_attributes
from ..analysis.faces import DEFAULT_ATTRIBUTES, DetectedFace
from ..errors import InvalidParameterException
from ..images import DecodedImage
from ..rekognition import DEFAULT_MATCH_THRESHOLD, MAX_FACES_PER_IMAGE
from . import matching, operation
from .context import RequestContext
from .face_detail import face_detail
from .face_matching import analyse_faces
from .image_input import request_image
from .unsupported import partly

# ComparedFace members: the default FaceDetail ones plus Emotions and Smile (its output shape
# has them).
COMPARED_FACE_ATTRIBUTES = DEFAULT_ATTRIBUTES | {"Emotions", "Smile"}


partly(
    "DetectFaces",
    "FaceDetail has no Eyeglasses, Sunglasses, Beard, Mustache or EyeDirection (no model ships "
    "for them); Emotions never has CONFUSED (no shipped expression model has the class); "
    "FaceOccluded sees masks, not hands or other objects",
)


@operation("DetectFaces")
def detect_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    image = request_image(request)
    attributes = requested_attributes(request.get("Attributes"))
    analyzer = face_analyzer()
    faces = analyzer.detect(image)[:MAX_FACES_PER_IMAGE]
    return {"FaceDetails": [face_detail(image, face, attributes, analyzer) for face in faces]}


def _faces_passing(image: DecodedImage, level: str) -> list[tuple[DetectedFace, dict[str, Any]]]:
    """The image's largest faces that meet the quality filter, with their ComparedFace."""
    faces = analyse_faces(image, COMPARED_FACE_ATTRIBUTES, level)[:MAX_FACES_PER_IMAGE]
    return [(face, detail) for face, detail, reasons in faces if not reasons]


@operation("CompareFaces")
def compare_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    level = request.get("QualityFilter", "NONE")
    threshold = float(request.get("SimilarityThreshold", DEFAULT_MATCH_THRESHOLD))
    source = request_image(request, "SourceImage")
    target = request_image(request, "TargetImage")
    analyzer = face_analyzer()

    source_faces = _faces_passing(source, level)
    if not source_faces:
        raise InvalidParameterException("There are no faces in the source image.")
    source_face, source_detail = source_faces[0]
    source_vector = analyzer.embed(source, source_face)

    matches, unmatched = [], []
    for face, detail in _faces_passing(target, level):
        similarity = float(matching.compare(source_vector, analyzer.embed(target, face))[0])
        if similarity >= threshold:
            matches.append({"Similarity": similarity, "Face": detail})
        else:
            unmatched.append(detail)
    matches.sort(key=lambda match: match["Similarity"], reverse=True)
    return {
        "SourceImageFace": {
            "BoundingBox": source_detail["BoundingBox"],
            "Confidence": source_detail["Confidence"],
        },
        "FaceMatches": matches,
        "UnmatchedFaces": unmatched,
    }
