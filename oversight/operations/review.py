"""Review-case extension operations: the requester reads what was released, reviewers decide.

GetReviewCase and ListReviewCases serve two roles in one account: the key that asked (its own
cases; the withheld answer once CONFIRMED) and reviewer keys (policy `reviewer`: open cases of
others, with the probe and candidate crops to judge). DecideReviewCase records one reviewer's
CONFIRM or REJECT. All three run through the governed call like any operation.
"""

from __future__ import annotations

from typing import Any

from ..collections.pagination import decode_token, encode_token
from ..errors import AccessDeniedException, InvalidParameterException
from ..governance.policy import get_policy
from ..governance.review import notify_closed, record_decision
from ..review import cases
from ..review.cases import Case
from . import RequestContext, operation
from .resources import page_size

DEFAULT_PAGE = 50
REQUESTER, REVIEWER = "REQUESTER", "REVIEWER"


def is_reviewer(ctx: RequestContext) -> bool:
    """Whether the calling key has the reviewer role (its policy says `reviewer`)."""
    policy = get_policy(ctx.access_key_id) if ctx.access_key_id else None
    return bool(policy and policy.reviewer)


def _require_reviewer(ctx: RequestContext) -> None:
    if not is_reviewer(ctx):
        raise AccessDeniedException(
            f"access key {ctx.access_key_id} has no reviewer role (policy 'reviewer')")


def _summary(case: Case) -> dict[str, Any]:
    return {
        "CaseId": case.case_id, "Status": case.status, "Operation": case.operation,
        "CollectionId": case.collection_id, "Purpose": case.purpose,
        "RequesterAccessKeyId": case.requester_key, "CreatedAt": case.created_at,
        "ExpiresAt": case.expires_at, "ReviewersRequired": case.reviewers_required,
        "Confirmations": case.confirmations, "CandidateCount": len(case.candidates),
    }


def case_for_requester(case: Case) -> dict[str, Any]:
    """The requester's view: the decisions, and once the match is CONFIRMED what was withheld
    and the reviewers' reasons (a reason may name the candidate, which an open or rejected case
    must not tell; reviewers and the audit log have them)."""
    released = case.status == cases.CONFIRMED
    out = {**_summary(case), "Decisions": [
        {"Decision": d.decision, "DecidedAt": d.decided_at,
         **({"Reason": d.reason} if released else {})}
        for d in case.decisions]}
    if released:
        out["Released"] = case.withheld
    return out


def case_for_reviewer(case: Case) -> dict[str, Any]:
    """Everything a reviewer needs to judge: the probe, each candidate and its reference crop."""
    out = {**_summary(case), "ProbeSource": case.probe_source, "Decisions": [
        {"Reviewer": d.reviewer_key, "Decision": d.decision, "Reason": d.reason,
         "DecidedAt": d.decided_at} for d in case.decisions]}
    if case.probe_crop is not None:
        out["ProbeImage"] = case.probe_crop
    out["Candidates"] = [_candidate(c) for c in case.candidates]
    return out


def _candidate(candidate: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in candidate.items() if v is not None}
    face_id = candidate.get("FaceId")
    crop = cases.reference_crop(face_id) if face_id else None
    if crop is not None:
        out["ReferenceImage"] = crop
    return out


@operation("GetReviewCase")
def get_review_case(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    case = cases.get_case(ctx.account_id, request["CaseId"])
    if case.requester_key == ctx.access_key_id:
        return case_for_requester(case)
    if is_reviewer(ctx):
        return case_for_reviewer(case)
    raise AccessDeniedException(
        f"review case {case.case_id} is readable by the key that asked and by reviewers only")


@operation("ListReviewCases")
def list_review_cases(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    role = request.get("Role", REQUESTER)
    if role == REVIEWER:
        _require_reviewer(ctx)
    size = page_size(request, DEFAULT_PAGE)  # MaxResults 0 too: a page is never empty
    scope = ("review-cases", ctx.account_id, ctx.access_key_id or "", role,
             request.get("Status", ""))
    offset = decode_token(scope, request.get("NextToken"))
    found = cases.list_cases(
        ctx.account_id,
        requester_key=ctx.access_key_id if role == REQUESTER else None,
        reviewable_by=ctx.access_key_id if role == REVIEWER else None,
        status=request.get("Status"),
        offset=offset, limit=size + 1,
    )
    out: dict[str, Any] = {"ReviewCases": [_summary(c) for c in found[:size]]}
    if len(found) > size:
        out["NextToken"] = encode_token(scope, offset + size)
    return out


@operation("DecideReviewCase")
def decide_review_case(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    _require_reviewer(ctx)
    if ctx.access_key_id is None:
        raise InvalidParameterException("a decision is made by a reviewer's access key")
    case = cases.decide(ctx.account_id, request["CaseId"], ctx.access_key_id,
                        request["Decision"], request["Reason"],
                        lambda settled: record_decision(ctx, settled, request["Decision"]))
    notify_closed(case)
    return {"CaseId": case.case_id, "Status": case.status,
            "Confirmations": case.confirmations, "ReviewersRequired": case.reviewers_required}
