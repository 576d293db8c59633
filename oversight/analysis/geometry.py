"""What face geometry alone can soundly tell: Rekognition's landmarks, head pose, eyes and mouth
open, smile. Everything here reads the 468-point FaceMesh; nothing is guessed from a bounding
box."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Rekognition names left and right from the viewer's side: "eyeLeft" is the eye on the image's
# left, which is the subject's right eye. Values are FaceMesh indices, averaged when several.
LANDMARK_POINTS: dict[str, tuple[int, ...]] = {
    "eyeLeft": (33, 133, 159, 145),
    "eyeRight": (263, 362, 386, 374),
    "nose": (1,),
    "mouthLeft": (61,),
    "mouthRight": (291,),
    "leftEyeBrowLeft": (70,),
    "leftEyeBrowRight": (107,),
    "leftEyeBrowUp": (105,),
    "rightEyeBrowLeft": (336,),
    "rightEyeBrowRight": (300,),
    "rightEyeBrowUp": (334,),
    "leftEyeLeft": (33,),
    "leftEyeRight": (133,),
    "leftEyeUp": (159,),
    "leftEyeDown": (145,),
    "rightEyeLeft": (362,),
    "rightEyeRight": (263,),
    "rightEyeUp": (386,),
    "rightEyeDown": (374,),
    "noseLeft": (98,),
    "noseRight": (327,),
    "mouthUp": (0,),
    "mouthDown": (17,),
    "upperJawlineLeft": (234,),
    "midJawlineLeft": (172,),
    "chinBottom": (152,),
    "midJawlineRight": (397,),
    "upperJawlineRight": (454,),
}

# Forehead-to-chin is not vertical in a frontal face: its raw pitch reading is this many degrees
# (the median over 100 LFW faces, which are mostly frontal), subtracted so frontal reads ~0.
_PITCH_OFFSET = 5.6

# Eyelid gap / eye width (from the iris network) above this is an open eye: measured open eyes
# read 0.18-0.29, closed ones -0.06-0.00. Inner-lip gap / mouth width above MOUTH_OPEN_RATIO is
# an open mouth. Both ratios are scale- and roll-invariant.
EYE_OPEN_RATIO = 0.09
MOUTH_OPEN_RATIO = 0.12
# Smile score: mouth width over the outer-eye-corner distance, plus twice the height of the mouth
# corners above the lip centre in the same unit, read in the head's own frame so pose does not
# change it. On the Yale faces (15 people, 11 expressions each; `python -m
# oversight.evaluation.smile`) smiles read 0.70-0.98 and the other expressions mostly below 0.69
# (9 of 149 above, up to 0.83); 0.73 keeps 13 of 15 smiles and 3 false ones. A stretched mouth
# without a smile (fear, a grimace) also reads high.
SMILE_RATIO = 0.73
SMILE_SPREAD = 0.05
# Eye corners (image-left, image-right) of the eye on the image's left and right, in FaceMesh.
LEFT_EYE_CORNERS = (33, 133)
RIGHT_EYE_CORNERS = (362, 263)


@dataclass(frozen=True)
class Pose:
    roll: float
    yaw: float
    pitch: float


def landmarks(
    mesh: np.ndarray, pupils: tuple[np.ndarray, np.ndarray], width: int, height: int
) -> list[dict[str, float | str]]:
    """Rekognition's 30 landmark types as ratios of the image size; pupils come from the iris
    network (image-left eye first)."""
    points = {
        name: mesh[list(indices), :2].mean(axis=0) for name, indices in LANDMARK_POINTS.items()
    }
    points["leftPupil"], points["rightPupil"] = pupils
    return [
        {"Type": name, "X": float(x / width), "Y": float(y / height)}
        for name, (x, y) in points.items()
    ]


def head_pose(mesh: np.ndarray) -> Pose:
    """Roll, yaw and pitch in degrees from the mesh's own 3-D axes.

    x runs from the image-left outer eye corner to the other, y from forehead to chin (made
    orthogonal to x), z = x cross y; the Euler angles of that frame are the head's rotation.
    Pitch is positive looking up, yaw positive turning towards the image's right, roll positive
    tilting clockwise in the image.
    """
    pitch, yaw, roll = cv2.RQDecomp3x3(_head_axes(mesh).astype(np.float64))[0]
    return Pose(roll=_wrap(roll), yaw=_wrap(yaw), pitch=_wrap(_PITCH_OFFSET - pitch))


def _head_axes(mesh: np.ndarray) -> np.ndarray:
    """The head's x (eye to eye), y (forehead to chin) and z axes as the columns of a rotation."""
    x_axis = mesh[263] - mesh[33]
    x_axis = x_axis / max(float(np.linalg.norm(x_axis)), 1e-6)
    y_axis = mesh[152] - mesh[10]
    y_axis = y_axis - (y_axis @ x_axis) * x_axis
    y_axis /= max(float(np.linalg.norm(y_axis)), 1e-6)
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)


def _wrap(angle: float) -> float:
    return float((angle + 180.0) % 360.0 - 180.0)


def _ratio(mesh: np.ndarray, gap: tuple[int, int], span: tuple[int, int]) -> float:
    opening = np.linalg.norm(mesh[gap[0], :2] - mesh[gap[1], :2])
    width = np.linalg.norm(mesh[span[0], :2] - mesh[span[1], :2])
    return float(opening / max(width, 1e-6))


def mouth_openness(mesh: np.ndarray) -> float:
    """Inner-lip gap over mouth width (about 0 closed, 0.3 and more wide open)."""
    return _ratio(mesh, (13, 14), (61, 291))


def smile_score(mesh: np.ndarray) -> float:
    """Mouth width plus twice the mouth-corner lift, over the eye span (see SMILE_RATIO)."""
    head = (mesh - mesh[1]) @ _head_axes(mesh)  # head frame: y runs down towards the chin
    eye_span = max(float(np.linalg.norm(head[263] - head[33])), 1e-6)
    width = float(np.linalg.norm(head[61, :2] - head[291, :2]))
    lift = float((head[13, 1] + head[14, 1]) / 2 - (head[61, 1] + head[291, 1]) / 2)
    return (width + 2.0 * lift) / eye_span


def boolean_attribute(ratio: float, threshold: float, spread: float) -> dict[str, float | bool]:
    """Rekognition's {Value, Confidence} from how far a ratio lies from its threshold."""
    margin = (ratio - threshold) / spread
    confidence = 100.0 / (1.0 + np.exp(-abs(margin) * 4.0))
    return {"Value": bool(margin > 0), "Confidence": float(confidence)}
