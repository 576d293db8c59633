"""RedactFaces (Oversight extension, shapes in extensions.json): blur or pixelate every face."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image as PILImage

from ..analysis import face_analyzer
from ..governance import catalog
from ..images import DecodedImage
from ..redaction import Encoder, Region, Spared, SpareRule, redact_image
from ..rekognition import bounding_box
from . import matching, operation
from .context import RequestContext
from .image_input import request_image
from .resources import searchable_collection

# A spared face stays visible, so a false match exposes someone who did not consent: the
# default asks for Similarity 90 (an estimated false-match rate of 3 in 1,000,000).
DEFAULT_SPARE_THRESHOLD = catalog.DEFAULT_SPARE_THRESHOLD


def spare_rule(
    ctx: RequestContext,
    collection_id: str | None,
    threshold: float | None = None,
    max_spared: int | None = None,
) -> SpareRule | None:
    """Spare faces whose best match in the caller's collection reaches `threshold`, at most
    `max_spared` per image (a policy's max_faces bounds the matches an answer reveals; the faces
    beyond are redacted, which never exposes anyone)."""
    if not collection_id:
        return None
    collection = searchable_collection({"CollectionId": collection_id}, ctx)
    bar = DEFAULT_SPARE_THRESHOLD if threshold is None else threshold
    analyzer = face_analyzer()
    spared_in: dict[str, Any] = {"image": None, "count": 0}

    def rule(image: DecodedImage, face: Any) -> Spared | None:
        if spared_in["image"] is not image:
            spared_in.update(image=image, count=0)
        if max_spared is not None and spared_in["count"] >= max_spared:
            return None
        found = matching.search(collection, analyzer.embed(image, face), 1, bar)
        if not found:
            return None
        match, similarity = found[0]
        spared_in["count"] += 1
        return Spared(match.face.face_id, similarity)

    return rule


def encoder(image_format: str) -> Encoder:
    """Encode pixels as PNG (lossless) or JPEG."""

    def encode(rgb: np.ndarray) -> bytes:
        out = io.BytesIO()
        if image_format == "PNG":
            PILImage.fromarray(rgb).save(out, format="PNG")
        else:
            PILImage.fromarray(rgb).save(out, format="JPEG", quality=95)
        return out.getvalue()

    return encode


def describe_regions(
    regions: list[Region], width: int, height: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """RedactedFaces and SparedFaces of the response."""
    redacted, spared = [], []
    for region in regions:
        shaped = {"BoundingBox": bounding_box(region.box, width, height),
                  "Confidence": region.confidence}
        if region.spared is None:
            redacted.append(shaped)
        else:
            spared.append(
                shaped | {"FaceId": region.spared.face_id, "Similarity": region.spared.similarity}
            )
    return redacted, spared


@operation("RedactFaces")
def redact_faces(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    image = request_image(request)
    spare = spare_rule(
        ctx,
        request.get("SpareCollectionId"),
        request.get("SpareFaceMatchThreshold"),
        request.get("MaxSparedFaces"),
    )
    result = redact_image(
        image, request.get("Method", "BLUR"), spare, encoder(image.format)
    )
    redacted, spared = describe_regions(result.regions, image.width, image.height)
    return {
        "Image": {"Bytes": result.encoded},
        "RedactedFaces": redacted,
        "SparedFaces": spared,
    }
