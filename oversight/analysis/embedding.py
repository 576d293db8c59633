"""Score-level fusion of the two shipped embedders, expressed as one vector.

For unit vectors s1, s2 (SFace) and d1, d2 (dlib), concatenating [a*s, b*d] with a^2 + b^2 = 1
gives a unit vector whose inner product is a^2 cos(s1, s2) + b^2 cos(d1, d2): a weighted sum of
the two cosine scores. One vector keeps 1:N search a plain inner-product index.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..models.dlib_models import DLIB_EMBEDDING_DIM
from ..models.sface import EMBEDDING_DIM as SFACE_DIM

# The SFace weight that maximised LFW devtrain pair accuracy, and the name that identifies
# vectors made with it, both written by `python -m oversight.evaluation.calibrate`.
# The fusion weight's file (its name predates per-matcher calibrations, which live in
# calibrations/): `python -m oversight.evaluation.calibrate` writes both.
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
_CALIBRATION = json.loads(CALIBRATION_FILE.read_text())
SFACE_WEIGHT: float = _CALIBRATION["sface_weight"]
EMBEDDING_MODEL: str = _CALIBRATION["embedding"]
EMBEDDING_DIM = SFACE_DIM + DLIB_EMBEDDING_DIM


def face_model_version(embedding: str) -> str:
    """Rekognition's FaceModelVersion for an embedding name: the service model requires
    `[0-9.]+` and clients read it as a number, so "sface-int8+dlib-resnet-v<N>/w<weight>" is
    published as "<N>.<weight in thousandths>" ("...-v1/w0.250" -> "1.250"). The name itself is
    in the model card, DescribeCollection's EmbeddingModel and GET /health."""
    match = re.fullmatch(r"sface-int8\+dlib-resnet-v(\d+)/w(\d+\.\d+)", embedding)
    if match is None:
        return "0"  # not a name this code writes (calibrate.py)
    return f"{match[1]}.{round(float(match[2]) * 1000):03d}"


FACE_MODEL_VERSION = face_model_version(EMBEDDING_MODEL)


def fuse(
    sface: np.ndarray, dlib_vector: np.ndarray, sface_weight: float = SFACE_WEIGHT
) -> np.ndarray:
    a, b = np.sqrt(sface_weight), np.sqrt(1.0 - sface_weight)
    return np.concatenate([a * sface, b * dlib_vector]).astype(np.float32)


def split_fused(
    vectors: np.ndarray, sface_weight: float = SFACE_WEIGHT
) -> tuple[np.ndarray, np.ndarray]:
    """The unit SFace and dlib vectors inside fused vectors (rows), undoing `fuse`."""
    a, b = np.sqrt(sface_weight), np.sqrt(1.0 - sface_weight)
    return vectors[..., :SFACE_DIM] / a, vectors[..., SFACE_DIM:] / b
