"""The Rekognition wire API: AWS JSON 1.1, SigV4 authentication, model-driven validation."""

from .app import create_app

__all__ = ["create_app"]
