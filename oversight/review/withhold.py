"""What the governed call does to a match-revealing answer when the key's policy puts it under
review: the identities are taken out and kept in a review case; the caller gets the same
Rekognition shape with empty matches and the case id (`ReviewCaseId`, also the
`x-oversight-review-case` response header), so a boto3 caller keeps working and learns that a
person must look first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import RekognitionError
from ..images import DecodedImage
from ..operations.context import RequestContext
from .cases import NewCase, open_case, reference_crop
from .clause import STREAM_MATCH, ReviewClause
from .crops import face_crop

log = logging.getLogger(__name__)

CASE_MEMBER = "ReviewCaseId"
CASE_HEADER = "x-oversight-review-case"


@dataclass(frozen=True)
class Withholding:
    """How one operation's answer carries its matches."""

    # The members holding identities, as they were (kept in the case, released on confirmation).
    withheld: Callable[[dict[str, Any]], dict[str, Any]]
    # The answer without them.
    cleared: Callable[[dict[str, Any]], dict[str, Any]]
    # What reviewers judge: [{FaceId?, UserId?, ExternalImageId?, Similarity, Timestamp?}].
    candidates: Callable[[dict[str, Any]], list[dict[str, Any]]]


def _face_candidates(matches: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    return [{"FaceId": m["Face"]["FaceId"], "UserId": m["Face"].get("UserId"),
             "ExternalImageId": m["Face"].get("ExternalImageId"),
             "Similarity": m["Similarity"], **extra} for m in matches]


def _members(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda response: {name: response.get(name, []) for name in names}


def _emptied(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda response: {**response, **{name: [] for name in names}}


_FACES = Withholding(_members("FaceMatches"), _emptied("FaceMatches"),
                     lambda r: _face_candidates(r.get("FaceMatches", [])))
_USERS = Withholding(
    _members("UserMatches"), _emptied("UserMatches"),
    lambda r: [{"UserId": m["User"]["UserId"], "Similarity": m["Similarity"]}
               for m in r.get("UserMatches", [])])
_VIDEO = Withholding(
    lambda r: {"Persons": r.get("Persons", [])},
    lambda r: {**r, "Persons": [{**p, "FaceMatches": []} for p in r.get("Persons", [])]},
    lambda r: [c for p in r.get("Persons", []) for c in _face_candidates(
        p.get("FaceMatches", []), Timestamp=p.get("Timestamp"))])
_STREAM = Withholding(
    lambda e: {"FaceSearchResponse": e.get("FaceSearchResponse", [])},
    lambda e: {**e, "FaceSearchResponse": [
        {**f, "MatchedFaces": []} for f in e.get("FaceSearchResponse", [])]},
    lambda e: [c for f in e.get("FaceSearchResponse", [])
               for c in _face_candidates(f.get("MatchedFaces", []))])

WITHHOLDINGS: dict[str, Withholding] = {
    "SearchFaces": _FACES, "SearchFacesByImage": _FACES,
    "SearchUsers": _USERS, "SearchUsersByImage": _USERS,
    "GetFaceSearch": _VIDEO, STREAM_MATCH: _STREAM,
}


def withhold(
    ctx: RequestContext,
    operation: str,
    request: dict[str, Any],
    response: dict[str, Any],
    clause: ReviewClause,
    collection_id: str | None,
    expires_at: datetime,
    record: Callable[[str], None],
    probe: DecodedImage | None = None,
    source_key: str | None = None,
) -> dict[str, Any]:
    """`response` without its identities and with the id of the review case that holds them
    (unchanged when it has no match: there is nothing to review). `record(case_id)` writes the
    case's audit record inside the case's transaction; `probe` is the image the probe face is
    in when the caller has it decoded (a stream frame); `source_key` names what is read again
    and again (one case for it)."""
    shape = WITHHOLDINGS[operation]
    candidates = shape.candidates(response)
    if not candidates:
        return response
    crop, source = _probe(operation, request, response, probe)
    case_id = open_case(NewCase(
        account_id=ctx.account_id, requester_key=ctx.access_key_id, purpose=ctx.purpose,
        operation=operation, request_id=ctx.request_id, collection_id=collection_id,
        withheld=shape.withheld(response), candidates=candidates, probe_crop=crop,
        probe_source=source, reviewers_required=clause.reviewers,
        expires_at=expires_at,
        source_key=source_key or _source_key(operation, request),
    ), record)
    return {**shape.cleared(response), CASE_MEMBER: case_id}


def _source_key(operation: str, request: dict[str, Any]) -> str | None:
    if operation == "GetFaceSearch":  # read again and again: one case per page of results
        return f"GetFaceSearch:{request['JobId']}:{request.get('NextToken', '')}"
    return None


def _probe(
    operation: str, request: dict[str, Any], response: dict[str, Any],
    image: DecodedImage | None,
) -> tuple[bytes | None, str | None]:
    """The probe face's crop, else a description of where it came from."""
    if operation == "SearchFacesByImage":
        return _crop_of_request_image(request, response["SearchedFaceBoundingBox"]), None
    if operation == "SearchUsersByImage":
        box = response["SearchedFace"]["FaceDetail"]["BoundingBox"]
        return _crop_of_request_image(request, box), None
    if operation == STREAM_MATCH:
        if image is None:  # a watcher's case: the frame is gone
            return None, f"a live frame of stream processor {request['Name']} (frames are not kept)"
        faces = response.get("FaceSearchResponse", [])
        box = faces[0]["DetectedFace"]["BoundingBox"] if faces else None
        return (face_crop(image, box) if box else None), None
    if operation == "SearchFaces" or (operation == "SearchUsers" and "FaceId" in request):
        face_id = request.get("FaceId") or request.get("SearchedFaceId")
        return reference_crop(face_id), f"stored face {face_id}"
    if operation == "SearchUsers":
        return None, f"stored user {request.get('UserId')}"
    if operation == "GetFaceSearch":
        return None, f"video job {request['JobId']} (frames are not kept)"
    return None, None


def _crop_of_request_image(request: dict[str, Any], box: dict[str, float]) -> bytes | None:
    from ..operations.image_input import request_image

    try:
        return face_crop(request_image(request), box)
    except RekognitionError:  # the search itself decoded it; a re-read S3 object may be gone
        log.warning("the probe image could not be read again for its review crop")
        return None
