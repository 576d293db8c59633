"""Face analysis on top of the models: detection, embeddings, attributes, similarity."""

from .embedding import EMBEDDING_DIM, EMBEDDING_MODEL, FACE_MODEL_VERSION, face_model_version
from .faces import DetectedFace, FaceAnalyzer, face_analyzer, requested_attributes

__all__ = [
    "EMBEDDING_DIM",
    "EMBEDDING_MODEL",
    "FACE_MODEL_VERSION",
    "DetectedFace",
    "FaceAnalyzer",
    "face_analyzer",
    "face_model_version",
    "requested_attributes",
]
