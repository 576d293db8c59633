"""The one governed call: every served operation and extension runs through `governed`.

    response = governed(ctx, operation, request, run)

The caller has authenticated (SigV4, a console session, the local operator) and validated the
request. `governed` then finds the operation's row in the catalog (none: refused), resolves every
resource the request reaches from stored state (`catalog.Row.reach`), checks each ARN and bucket
belongs to the caller's account, applies the key's policy to what was reached, spends the rate
limit, runs `run()`, filters the answer to what the key may see, and writes the audit record
before the answer is handed back. The API (`api/app.py`), the console, the CLI (`api/calls.py`),
the event streams and running stream processors all call it; there is no other path.

Refusals are audited for every operation; other outcomes for the operations the catalog marks
`audited` (those touching faces) or `changes_state`. Before a state-changing operation runs, its
intent record is written: if the log cannot be written the operation never starts (fail closed).
A record that cannot be written fails the call (InternalServerError): a face result whose use
cannot be audited is not handed out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from ..api.tables import access_keys
from ..errors import (
    InternalServerError,
    InvalidParameterException,
    RekognitionError,
    UnrecognizedClientException,
)
from ..operations.context import RequestContext
from ..s3 import bucket_account
from ..store import get_engine
from ..video.endpoints import endpoint_for
from . import audit, review
from .catalog import Reach, Row, arn_account, row_for
from .policy import DEFAULT_KEY, Policy, PolicyRefusal, get_policy
from .purpose import MAX_PURPOSE_CHARS, check_purpose
from .ratelimit import RateLimited, limiter
from .receipts import watch_deletions
from .records import admin_fields, intent_fields, operation_fields

log = logging.getLogger(__name__)


def governed(
    ctx: RequestContext,
    operation: str,
    request: dict[str, Any],
    run: Callable[[], dict[str, Any]],
    metered: bool = True,
) -> dict[str, Any]:
    """Admit, run, filter and record one operation (see the module docstring). `metered=False`
    for the parts of a request already admitted (each image of a bulk job): judged and recorded
    alike, without spending the key's rate limit again."""
    row, policy, reach = admit(ctx, operation, request, metered)
    response: dict[str, Any] | None = None
    error: RekognitionError | None = None
    try:
        response = run()
        if row.response_filter is not None and policy is not None:
            if policy.allowed_collections is not None:
                response = row.response_filter(ctx, policy.allowed_collections, response)
        response = review.after_run(ctx, operation, request, response, policy, reach)
    except RekognitionError as exc:
        error = exc
    except Exception as exc:  # a handler bug is still audited and answered, never a crash
        log.exception("operation %s failed (request %s)", operation, ctx.request_id)
        error = InternalServerError(f"Internal error; request id {ctx.request_id}.")
        error.__cause__ = exc
    if row.recorded:
        audit.write(operation_fields(ctx, operation, request, response, error, reach))
    if error is not None:
        raise error
    assert response is not None
    return response


def admit(
    ctx: RequestContext, operation: str, request: dict[str, Any], metered: bool = True
) -> tuple[Row, Policy | None, Reach]:
    """The operation's row, the key's policy and what the request reaches; or the refusal
    (AccessDeniedException / ThrottlingException), audited before it is raised."""
    try:
        check_purpose(ctx.purpose)
    except InvalidParameterException as refusal:
        # The key holder's invalid request is audited too, its purpose cut to a valid length.
        sent = replace(ctx, purpose=ctx.purpose[:MAX_PURPOSE_CHARS] if ctx.purpose else None)
        audit.write(operation_fields(sent, operation, request, None, refusal))
        raise
    watch_deletions()
    reach: Reach | None = None
    try:
        row, policy, reach = judge(ctx, operation, request)
        if metered and policy is not None and policy.rate_limit_per_minute is not None:
            limiter.take(ctx.access_key_id or DEFAULT_KEY, policy.rate_limit_per_minute)
    except (PolicyRefusal, RateLimited) as refusal:
        reached = getattr(refusal, "reach", reach)  # judge's refusals carry what it resolved
        audit.write(operation_fields(ctx, operation, request, None, refusal, reached))
        raise
    if row.changes_state:
        # Fail closed: when this record cannot be written (InternalServerError) nothing has
        # changed yet, and nothing will.
        audit.write(intent_fields(ctx, operation, request, reach))
    return row, policy, reach


def judge(
    ctx: RequestContext, operation: str, request: dict[str, Any]
) -> tuple[Row, Policy | None, Reach]:
    """Resolve and judge without auditing or spending the rate limit: what long-lived calls
    (event streams, running stream processors) repeat to find out whether they may go on."""
    row = row_for(operation)
    if row is None:
        raise PolicyRefusal(
            "ungoverned", f"{operation} has no row in the governance catalog: it cannot run"
        )
    reach = row.reach(ctx, request)
    try:
        policy = get_policy(ctx.access_key_id)
        if policy is not None:
            policy.check(operation, reach, ctx.purpose)
        _check_ownership(ctx, reach)
    except PolicyRefusal as refusal:
        refusal.reach = reach  # type: ignore[attr-defined]
        raise
    return row, policy, reach


def still_allowed(ctx: RequestContext, operation: str, request: dict[str, Any]) -> None:
    """Raise when a long-lived call admitted earlier (an event stream, a running stream
    processor) may not go on: its key was revoked, or its policy no longer allows what it
    reaches (re-resolved from stored state)."""
    if ctx.access_key_id is not None and not _key_active(ctx.access_key_id):
        raise UnrecognizedClientException(f"Access key {ctx.access_key_id} has been revoked.")
    judge(ctx, operation, request)


def _key_active(access_key_id: str) -> bool:
    query = select(access_keys.c.access_key_id).where(
        access_keys.c.access_key_id == access_key_id, access_keys.c.revoked_at.is_(None)
    )
    with get_engine().connect() as connection:
        return connection.execute(query).first() is not None


def _check_ownership(ctx: RequestContext, reach: Reach) -> None:
    """Every ARN and bucket the request reaches is the caller's account's, and every endpoint
    ARN is one the operator mapped: whatever the policy, nobody reaches another tenant's camera,
    webhook, topic, role or videos."""
    for named in reach.arns:
        if arn_account(named.arn) != ctx.account_id:
            raise PolicyRefusal(
                "account",
                f"{named.what} {named.arn} does not belong to account {ctx.account_id}",
            )
    for bucket in reach.buckets:
        if bucket_account(bucket) != ctx.account_id:
            raise PolicyRefusal(
                "account", f"S3 bucket {bucket} does not belong to account {ctx.account_id}"
            )
    for named in reach.arns:
        if named.mapped:
            try:
                endpoint_for(named.arn, named.what)
            except InvalidParameterException as exc:
                raise PolicyRefusal("resource", exc.message) from exc


def audit_admin_event(
    ctx: RequestContext, action: str, target: str, details: dict[str, Any] | None = None
) -> None:
    """Record an administrative change (access keys, policies, retention) in the configured
    chain (`records.admin_fields`: `details` must hold no secret)."""
    audit.write(admin_fields(ctx, action, target, details))
