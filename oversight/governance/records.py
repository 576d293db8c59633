"""What an audit record says about one request (which operations get one: `catalog.Row`).

Fields are picked one by one from the request and response, never copied wholesale, so image
bytes, embeddings, bounding boxes and client-chosen labels (ExternalImageId, which often is a
person's name) cannot leak into the log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..errors import RekognitionError
from ..operations.context import RequestContext
from .catalog import FACE_SEARCH, Reach, member

# Request parameters worth keeping: they decide what a search may return.
_PARAMETERS = (
    "FaceMatchThreshold", "SimilarityThreshold", "UserMatchThreshold", "MaxFaces", "MaxUsers",
    "QualityFilter", "FaceId", "UserId", "Name", "JobId", "Method", "SpareFaceMatchThreshold",
    "MaxSparedFaces",
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def base_fields(ctx: RequestContext, kind: str) -> dict[str, Any]:
    return {
        "time": now_iso(),
        "kind": kind,
        "account": ctx.account_id,
        "key": ctx.access_key_id,
        "purpose": ctx.purpose,
        "request_id": ctx.request_id,
    }


def admin_fields(
    ctx: RequestContext, action: str, target: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An administrative change: `action` (e.g. "PutPolicy"), `target` what it changed (a key
    id, a collection), `details` (never a secret)."""
    fields = base_fields(ctx, "admin")
    fields.update({"action": action, "target": target, "details": details or {}})
    return fields


def intent_fields(
    ctx: RequestContext, operation: str, request: dict[str, Any], reach: Reach | None = None
) -> dict[str, Any]:
    """What a state-changing request is about to do; written before the change is made.
    `reach` (what the gate resolved, stored state included) names the collection, e.g. the one
    behind a video job or a stream processor."""
    fields = base_fields(ctx, "intent")
    collections = reach.collections if reach is not None else []
    fields.update({
        "operation": operation,
        "collection": collections[0] if collections else None,
        "parameters": {
            k: request[k] for k in _PARAMETERS if isinstance(request.get(k), str | int | float)
        },
    })
    stream_threshold = member(request, (*FACE_SEARCH, "FaceMatchThreshold"))
    if stream_threshold is not None:
        fields["parameters"]["FaceMatchThreshold"] = stream_threshold
    return fields


def operation_fields(
    ctx: RequestContext,
    operation: str,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    error: RekognitionError | None,
    reach: Reach | None = None,
) -> dict[str, Any]:
    fields = {**intent_fields(ctx, operation, request, reach), "kind": "operation"}
    fields["outcome"] = "ok" if error is None else error.code
    if error is not None:
        fields["error"] = error.message
        rule = getattr(error, "rule", None)
        if rule:
            fields["refused_by"] = rule
    if response is not None:
        fields["counts"] = response_counts(response)
        fields["matches"] = response_matches(response)
        fields.update(_face_ids(response))
        if "ReviewCaseId" in response:  # the matches went to a review case, not the caller
            fields["review_case"] = response["ReviewCaseId"]
    return fields


def response_counts(response: dict[str, Any]) -> dict[str, int]:
    """The length of every top-level list (faces found, matched, ...) and every top-level count
    (FaceCount, frames of a redacted video, ...) of the response."""
    counts = {key: len(value) for key, value in response.items() if isinstance(value, list)}
    counts.update({
        key: value for key, value in response.items()
        if isinstance(value, int) and not isinstance(value, bool)
    })
    return counts


def response_matches(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Matched face/user ids and their similarities (CompareFaces matches carry no id)."""
    found: list[dict[str, Any]] = []
    groups = [response.get(k) for k in ("FaceMatches", "UserMatches", "SparedFaces")]
    # GetFaceSearch nests matches per tracked person.
    groups += [p.get("FaceMatches") for p in response.get("Persons") or [] if isinstance(p, dict)]
    for group in groups:
        for match in group or []:
            if not isinstance(match, dict):
                continue
            entry: dict[str, Any] = {"similarity": match.get("Similarity")}
            # SparedFaces (RedactFaces) carry the id at the top level.
            face_id = (match.get("Face") or {}).get("FaceId") or match.get("FaceId")
            user_id = (match.get("User") or {}).get("UserId")
            if face_id:
                entry["face_id"] = face_id
            if user_id:
                entry["user_id"] = user_id
            found.append(entry)
    return found


def _face_ids(response: dict[str, Any]) -> dict[str, list[str]]:
    """Ids of faces the operation created or deleted, so a later deletion receipt can be tied to
    the indexing that created the face."""
    out: dict[str, list[str]] = {}
    indexed = [
        r["Face"]["FaceId"] for r in response.get("FaceRecords") or []
        if isinstance(r, dict) and isinstance(r.get("Face"), dict) and "FaceId" in r["Face"]
    ]
    if indexed:
        out["indexed_face_ids"] = indexed
    deleted = [f for f in response.get("DeletedFaces") or [] if isinstance(f, str)]
    if deleted:
        out["deleted_face_ids"] = deleted
    return out
