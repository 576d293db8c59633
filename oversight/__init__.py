"""Oversight: accountable, self-hosted image and video analysis with Rekognition's API."""

__version__ = "0.1.0"
