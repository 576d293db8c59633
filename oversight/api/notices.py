"""Oversight's extension response headers: what a client should know about one answer that
Rekognition's response shapes have no member for. SDKs keep unknown headers (boto3:
response["ResponseMetadata"]["HTTPHeaders"]; JavaScript v3: a middleware), so no client breaks.

`X-Oversight-Unanswered-Attributes`: the face attributes the request asked for (by name, or by
ALL) that no shipped model answers, comma-separated (BEARD, EYE_DIRECTION, EYEGLASSES, MUSTACHE,
SUNGLASSES); their FaceDetail members are left out rather than guessed.
"""

from __future__ import annotations

from typing import Any

from ..analysis.faces import unanswered_attributes

UNANSWERED_ATTRIBUTES_HEADER = "X-Oversight-Unanswered-Attributes"
# The request member that lists face attributes, per operation.
_ATTRIBUTES_MEMBER = {
    "DetectFaces": "Attributes",
    "IndexFaces": "DetectionAttributes",
    "StartFaceDetection": "FaceAttributes",  # a single DEFAULT or ALL
}


def notice_headers(operation: str, request: dict[str, Any]) -> dict[str, str]:
    """Extension headers for a successful answer to `request`."""
    member = _ATTRIBUTES_MEMBER.get(operation)
    if member is None:
        return {}
    asked = request.get(member)
    unanswered = unanswered_attributes([asked] if isinstance(asked, str) else asked)
    return {UNANSWERED_ATTRIBUTES_HEADER: ", ".join(unanswered)} if unanswered else {}
