"""The plain Python API (`import oversight`): faces on images and arrays, and every Rekognition
operation through the same governance as the HTTP API.

    faces = oversight.detect_faces("group.jpg")        # [DetectedFace], largest first
    alice = oversight.embed("alice.jpg")                # the largest face's vector (or None)
    oversight.similarity(alice, oversight.embed("alice-2019.jpg"))   # Rekognition's 0-100
    oversight.compare("alice.jpg", "alice-2019.jpg")    # the same, in one call
    oversight.call("SearchFacesByImage", {"CollectionId": "staff", "Image": {"Bytes": data}},
                   purpose="door access")               # validated, policy-checked, audited

An image is a file path, JPEG/PNG bytes, an H x W x 3 RGB uint8 array or a `DecodedImage`.
`detect_faces`, `embed`, `similarity` and `compare` run the models in this process on what they
are given and touch no stored face, collection or audit record (they are what the operations
run, without the Rekognition shapes). Anything that stores, searches or must be accounted for
goes through `call`: botocore's validation, the caller's policy and the audit log, as the local
operator (account 000000000000) unless `ctx` names another.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import DetectedFace, face_analyzer
from .api.calls import governed_call
from .images import DecodedImage, decode_image, from_array, load_image
from .operations import matching
from .operations.context import RequestContext

Image = str | Path | bytes | np.ndarray | DecodedImage


def _decoded(image: Image) -> DecodedImage:
    if isinstance(image, DecodedImage):
        return image
    if isinstance(image, bytes):
        return decode_image(image)
    if isinstance(image, np.ndarray):
        return from_array(image)
    return load_image(image)


def detect_faces(image: Image) -> list[DetectedFace]:
    """Every face the detector finds, largest first: pixel `box` (x, y, w, h), detector `score`
    (0-1) and `landmarks5` (eyes, nose tip, mouth corners in pixels)."""
    return face_analyzer().detect(_decoded(image))


def embed(image: Image, face: DetectedFace | None = None) -> np.ndarray | None:
    """The unit-norm embedding of `face` (default: the image's largest), or None when the image
    has no face. The inner product of two embeddings is their cosine."""
    decoded = _decoded(image)
    if face is None:
        faces = face_analyzer().detect(decoded)
        if not faces:
            return None
        face = faces[0]
    return face_analyzer().embed(decoded, face)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Rekognition's calibrated 0-100 Similarity of two embeddings (docs/MODEL_CARD.md states
    what 80, 90, 95 and 99 mean)."""
    return float(matching.compare(a, b)[0])


def compare(source: Image, target: Image) -> float | None:
    """Similarity of the largest face of each image, or None when either has no face."""
    a, b = embed(source), embed(target)
    return None if a is None or b is None else similarity(a, b)


def call(
    operation: str,
    request: dict[str, Any],
    *,
    purpose: str | None = None,
    ctx: RequestContext | None = None,
) -> dict[str, Any]:
    """Run a Rekognition (or Oversight extension) operation with a Rekognition-shaped request
    (blobs as bytes), exactly as the API would: validated, admitted by the caller's policy and
    audited. Raises the `oversight.errors` exception a Rekognition client would get."""
    ctx = ctx or RequestContext.local()
    if purpose is not None:
        ctx = replace(ctx, purpose=purpose)
    return governed_call(operation, request, ctx)
