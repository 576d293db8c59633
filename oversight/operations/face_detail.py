"""Rekognition's FaceDetail (DetectFaces, IndexFaces, CompareFaces, GetFaceDetection, ...) from
what the face analyzer reads: the analysis layer answers numbers and dataclasses, this module
gives them Rekognition's members, enums and 0-100 confidences."""

from __future__ import annotations

import math
from typing import Any

from ..analysis import geometry, quality
from ..analysis.faces import DetectedFace, FaceAnalyzer, face_analyzer
from ..images import DecodedImage

# Whatever the mesh answers: the points, the head pose and the expression ratios.
_FROM_MESH = frozenset({"Landmarks", "Pose", "EyesOpen", "MouthOpen", "Smile"})


def probability_attribute(probability: float) -> dict[str, Any]:
    """Rekognition's {Value, Confidence} for a yes/no model output: yes from 0.5 up, and the
    confidence of whichever answer is given."""
    return {"Value": probability >= 0.5, "Confidence": max(probability, 1.0 - probability) * 100.0}


def face_detail(
    image: DecodedImage,
    face: DetectedFace,
    attributes: frozenset[str],
    analyzer: FaceAnalyzer | None = None,
) -> dict[str, Any]:
    """Rekognition's FaceDetail for one face, with the requested attribute members."""
    analyzer = analyzer or face_analyzer()
    detail: dict[str, Any] = {
        "BoundingBox": face.bounding_box(image),
        "Confidence": face.score * 100.0,
    }
    if attributes & _FROM_MESH:
        detail |= _mesh_members(analyzer, image, face, attributes)
    if "Quality" in attributes:
        gray = quality.face_crop_gray(image.bgr, face.box)
        detail["Quality"] = {
            "Brightness": quality.brightness(gray),
            "Sharpness": quality.sharpness(gray),
        }
    if "Emotions" in attributes:
        ranked = sorted(analyzer.emotions(image, face).items(), key=lambda e: -e[1])
        detail["Emotions"] = [{"Type": name, "Confidence": p * 100.0} for name, p in ranked]
    if "FaceOccluded" in attributes:
        detail["FaceOccluded"] = probability_attribute(analyzer.face_cover(image, face))
    if attributes & {"AgeRange", "Gender"}:
        estimate = analyzer.age_gender(image, face)
        if "AgeRange" in attributes:
            spread = max(estimate.age_spread, 2.0)
            detail["AgeRange"] = {
                "Low": max(0, math.floor(estimate.age - spread)),
                "High": math.ceil(estimate.age + spread),
            }
        if "Gender" in attributes:
            male = probability_attribute(estimate.male_probability)
            detail["Gender"] = {
                "Value": "Male" if male["Value"] else "Female",
                "Confidence": male["Confidence"],
            }
    return detail


def _mesh_members(
    analyzer: FaceAnalyzer, image: DecodedImage, face: DetectedFace, attributes: frozenset[str]
) -> dict[str, Any]:
    mesh = analyzer.mesh(image, face)
    members: dict[str, Any] = {}
    if attributes & {"Landmarks", "EyesOpen"}:
        eyes = analyzer.eyes(image, mesh)
    if "Landmarks" in attributes:
        pupils = (eyes[0].pupil, eyes[1].pupil)
        members["Landmarks"] = geometry.landmarks(mesh, pupils, image.width, image.height)
    if "Pose" in attributes:
        pose = geometry.head_pose(mesh)
        members["Pose"] = {"Roll": pose.roll, "Yaw": pose.yaw, "Pitch": pose.pitch}
    if "EyesOpen" in attributes:
        openness = (eyes[0].openness + eyes[1].openness) / 2.0
        members["EyesOpen"] = geometry.boolean_attribute(openness, geometry.EYE_OPEN_RATIO, 0.05)
    if "MouthOpen" in attributes:
        members["MouthOpen"] = geometry.boolean_attribute(
            geometry.mouth_openness(mesh), geometry.MOUTH_OPEN_RATIO, 0.08
        )
    if "Smile" in attributes:
        members["Smile"] = geometry.boolean_attribute(
            geometry.smile_score(mesh), geometry.SMILE_RATIO, geometry.SMILE_SPREAD
        )
    return members
