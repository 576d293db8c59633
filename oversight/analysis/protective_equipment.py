"""Protective equipment on people, as far as a shipped model can see it: face covers only.

People come from `people.detect_people`; each keeps the largest detected face whose centre lies
in the top half of its box (a face lower down belongs to someone in front), and the mask
classifier reads that face. No packaged model detects helmets or gloves, so HEAD and the hands
are never reported as body parts (reporting them bare would claim "no head cover" unseen), and a
summary that requires HEAD_COVER or HAND_COVER can only call people indeterminate.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..images import DecodedImage
from .faces import DetectedFace, face_analyzer
from .people import DetectedPerson, detect_people

# RequiredEquipmentTypes Oversight can check; the others have no model.
DETECTABLE_EQUIPMENT = frozenset({"FACE_COVER"})
COVER_THRESHOLD = 0.5
# A person's face must be centred in this top share of the person's box.
_FACE_REGION = 0.5


@dataclass(frozen=True)
class PersonEquipment:
    person: DetectedPerson
    face: DetectedFace | None
    face_cover: float | None  # probability that a mask covers the face; None without a face


def _inside_top(face: DetectedFace, person: DetectedPerson) -> bool:
    fx, fy, fw, fh = face.box
    px, py, pw, ph = person.box
    cx, cy = fx + fw / 2, fy + fh / 2
    return px <= cx <= px + pw and py <= cy <= py + _FACE_REGION * ph


def equipment_on_people(image: DecodedImage) -> list[PersonEquipment]:
    """Every detected person, most confident first, with their face and its cover reading."""
    analyzer = face_analyzer()
    unclaimed = analyzer.detect(image)  # largest first
    found = []
    for person in detect_people(image):
        face = next((f for f in unclaimed if _inside_top(f, person)), None)
        cover = None
        if face is not None:
            unclaimed.remove(face)
            cover = analyzer.face_cover(image, face)
        found.append(PersonEquipment(person, face, cover))
    return found


def summary_status(entry: PersonEquipment, required: frozenset[str], min_confidence: float) -> str:
    """"with", "without" or "indeterminate": Rekognition's verdict for one person at
    `min_confidence` (percent), which applies to the person, the face and the cover reading."""
    if "FACE_COVER" in required:
        if entry.face is None or entry.face_cover is None:
            return "indeterminate"
        face_sure = entry.face.score * 100.0 >= min_confidence
        covered = entry.face_cover >= COVER_THRESHOLD
        sure = max(entry.face_cover, 1.0 - entry.face_cover) * 100.0 >= min_confidence
        if not (face_sure and sure):
            return "indeterminate"
        if not covered:
            return "without"
    return "indeterminate" if required - DETECTABLE_EQUIPMENT else "with"
