"""Face analysis on top of the models: detection, embeddings, attributes, similarity."""

from .embedding import EMBEDDING_DIM, EMBEDDING_MODEL
from .faces import DetectedFace, FaceAnalyzer, face_analyzer, requested_attributes
from .similarity import similarity_from_cosine

__all__ = [
    "EMBEDDING_DIM",
    "EMBEDDING_MODEL",
    "DetectedFace",
    "FaceAnalyzer",
    "face_analyzer",
    "requested_attributes",
    "similarity_from_cosine",
]
