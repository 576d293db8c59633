"""Human review inside the governed call: withholding matches, keeping reference crops, and the
audit records of every step of a case (opened, decided, expired).

`after_run` is called by `gate.governed` on every successful answer; the running stream
processors call `hold_stream_match` on each match event. A case that cannot be opened or
recorded fails the call: matches are never handed out because their review could not start.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from ..api.tables import access_keys
from ..config import settings
from ..errors import RekognitionError
from ..images import DecodedImage, from_array
from ..operations.context import RequestContext
from ..review import cases
from ..review.clause import STREAM_MATCH, ReviewClause
from ..review.crops import face_crop
from ..review.withhold import CASE_MEMBER, withhold
from ..store import get_engine
from ..video.endpoints import endpoint_for
from ..video.webhooks import post_json
from . import audit
from .catalog import EVENTS_OPERATION, Reach, row_for
from .policy import DEFAULT_KEY, Policy, get_policy
from .records import base_fields, response_matches
from .retention import max_age
from .tables import policies

log = logging.getLogger(__name__)


def after_run(
    ctx: RequestContext,
    operation: str,
    request: dict[str, Any],
    response: dict[str, Any],
    policy: Policy | None,
    reach: Reach,
) -> dict[str, Any]:
    """The answer as the caller may have it: under the key's review clause, its identities go
    into a review case. IndexFaces keeps each new face's reference crop while the account has
    any key under review, so that reviewers can see whom a probe was matched with."""
    if operation == "IndexFaces" and review_enabled(ctx.account_id):
        _keep_reference_crops(request, response)
    clause = policy.review_clause if policy is not None else None
    if clause is None or not clause.withholds(operation, reach.collections):
        return response
    return hold(ctx, operation, request, response, clause, reach.collections)


def hold(
    ctx: RequestContext,
    operation: str,
    request: dict[str, Any],
    response: dict[str, Any],
    clause: ReviewClause,
    collections: list[str],
    probe: DecodedImage | None = None,
    source_key: str | None = None,
) -> dict[str, Any]:
    collection = collections[0] if collections else None
    retention = max_age(ctx.account_id, collection) if collection else None
    expires_at = cases.expiry(datetime.now(UTC), settings().review_case_hours, retention)

    def record(case_id: str) -> None:
        fields = base_fields(ctx, "review")
        fields.update({
            "action": "OpenReviewCase", "case": case_id, "operation": operation,
            "collection": collection, "reviewers_required": clause.reviewers,
            "matches": response_matches(response)
            or [{"face_id": m["Face"]["FaceId"], "similarity": m["Similarity"]}
                for f in response.get("FaceSearchResponse", []) for m in f["MatchedFaces"]],
            "expires_at": expires_at.isoformat(),
        })
        audit.write(fields)

    return withhold(ctx, operation, request, response, clause, collection, expires_at, record,
                    probe, source_key)


def hold_stream_match(
    ctx: RequestContext, processor: str, collection: str, event: dict[str, Any],
    frame_rgb: np.ndarray,
) -> dict[str, Any]:
    """A running stream processor's match event as its sinks (webhook, events file, watchers)
    may have it: under the starter's review clause, with a case instead of identities."""
    policy = get_policy(ctx.access_key_id)
    clause = policy.review_clause if policy is not None else None
    if clause is None or not clause.withholds(STREAM_MATCH, [collection]):
        return event
    return hold(ctx, STREAM_MATCH, {"Name": processor}, event, clause, [collection],
                probe=from_array(frame_rgb))


def watched_events(ctx: RequestContext, processor: str, lines: list[str]) -> list[str]:
    """A processor's match events (JSON lines) as the key watching them may see them: under the
    watcher's own review clause each event's identities go into a case of the watcher's, whoever
    started the processor (the starter's clause judged the events when they were made, the
    watcher's is judged here). One case per watcher and event, however often it reconnects."""
    policy = get_policy(ctx.access_key_id)
    clause = policy.review_clause if policy is not None else None
    if clause is None:
        return lines
    row = row_for(EVENTS_OPERATION)
    assert row is not None
    collections = row.reach(ctx, {"Name": processor}).collections
    if not clause.withholds(STREAM_MATCH, collections):
        return lines
    shown = []
    for line in lines:
        event = json.loads(line)
        seen = ":".join((processor, str(ctx.access_key_id),
                         str(event.get("StreamProcessorInformation", {}).get("SessionId")),
                         str(event.get("FrameTimestampMillis"))))
        shown.append(json.dumps(hold(
            ctx, STREAM_MATCH, {"Name": processor}, event, clause, collections,
            source_key=f"watch:{hashlib.sha256(seen.encode()).hexdigest()}")))
    return shown


def record_decision(ctx: RequestContext, case: cases.Case, decision: str) -> None:
    """The audit record of one reviewer's decision (and of the release it may cause)."""
    fields = base_fields(ctx, "review")
    fields.update({"action": "DecideReviewCase", "case": case.case_id, "decision": decision,
                   "status": case.status, "confirmations": case.confirmations,
                   "reviewers_required": case.reviewers_required,
                   "requester": case.requester_key, "collection": case.collection_id,
                   "case_purpose": case.purpose})
    audit.write(fields)


def notify_closed(case: cases.Case) -> None:
    """Tell the requester's `review.notify` topic that a case closed (id and status, never the
    identity). Best effort after the change committed: the case and its audit records are the
    truth, and GetReviewCase reads them."""
    if case.status == cases.OPEN:
        return
    policy = get_policy(case.requester_key)
    clause = policy.review_clause if policy is not None else None
    if clause is None or clause.notify is None:
        return
    payload = {"ReviewCaseId": case.case_id, "Status": case.status,
               "CollectionId": case.collection_id, "Operation": case.operation}
    try:
        post_json(endpoint_for(clause.notify, "SNS topic"), payload)
    except (OSError, RekognitionError):
        log.warning("review case %s: the %s topic could not be told", case.case_id, case.status)


def expire_cases(now: datetime | None = None) -> int:
    """Expire every open case past its time; each leaves a receipt that its probe crop is gone."""
    def receipt(case: cases.Case) -> None:
        ctx = RequestContext(account_id=case.account_id, access_key_id=None, purpose=None,
                             request_id=f"review-expiry-{case.case_id}")
        fields = base_fields(ctx, "review")
        fields.update({"action": "ExpireReviewCase", "case": case.case_id,
                       "status": cases.EXPIRED, "requester": case.requester_key,
                       "collection": case.collection_id, "case_purpose": case.purpose,
                       "probe_crop_deleted": True})
        audit.write(fields)

    return cases.expire_due(now or datetime.now(UTC), receipt, notify_closed)


def review_enabled(account_id: str) -> bool:
    """Whether any key of the account (or the default policy) has a review clause."""
    query = (
        select(policies.c.access_key_id)
        .select_from(policies.outerjoin(
            access_keys, access_keys.c.access_key_id == policies.c.access_key_id))
        .where(policies.c.review.is_not(None))
        .where((policies.c.access_key_id == DEFAULT_KEY)
               | (access_keys.c.account_id == account_id))
        .limit(1)
    )
    with get_engine().connect() as connection:
        return connection.execute(query).first() is not None


def _keep_reference_crops(request: dict[str, Any], response: dict[str, Any]) -> None:
    from ..operations.image_input import request_image

    records = response.get("FaceRecords") or []
    if not records:
        return
    image = request_image(request)
    crops = {r["Face"]["FaceId"]: face_crop(image, r["FaceDetail"]["BoundingBox"])
             for r in records}
    cases.keep_reference_crops({k: v for k, v in crops.items() if v is not None})


__all__ = ["CASE_MEMBER", "after_run", "expire_cases", "hold", "record_decision",
           "review_enabled", "watched_events"]
