"""The governance gate the api layer wraps around every operation handler.

    gate.admit(ctx, operation, request)          # after authentication and validation
    response = handler(request, ctx)
    gate.record(ctx, operation, request, response, error)   # before the response is sent

`record` is called for every outcome (response or error). `admit` writes the audit record of its
own refusals before raising, so `record` skips them and a caller that forgets to call `record`
after a refusal still leaves the refusal in the log. Before a state-changing operation runs,
`admit` writes its intent record: if the log cannot be written the operation never starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InternalServerError, RekognitionError, ResourceNotFoundException
from ..operations.context import RequestContext
from ..store import get_engine
from ..video.processors import ProcessorStore
from . import audit
from .policy import DEFAULT_KEY, PolicyRefusal, get_policy
from .purpose import check_purpose
from .ratelimit import RateLimited, limiter
from .receipts import watch_deletions
from .records import (
    RECORDED_OPERATIONS,
    STATE_CHANGING_OPERATIONS,
    base_fields,
    intent_fields,
    operation_fields,
)


def admit(ctx: RequestContext, operation: str, request: dict[str, Any]) -> None:
    """Raise AccessDeniedException or ThrottlingException when the key's policy forbids this."""
    check_purpose(ctx.purpose)
    watch_deletions()
    policy = get_policy(ctx.access_key_id)
    if policy is not None:
        try:
            policy.check(operation, _with_stored_settings(ctx, operation, request), ctx.purpose)
            if policy.rate_limit_per_minute is not None:
                limiter.take(ctx.access_key_id or DEFAULT_KEY, policy.rate_limit_per_minute)
        except (PolicyRefusal, RateLimited) as refusal:
            audit.write(operation_fields(ctx, operation, request, None, refusal))
            # Marks the error so that `record` does not log the same refusal twice.
            refusal.recorded = True  # type: ignore[attr-defined]
            raise
    if operation in STATE_CHANGING_OPERATIONS:
        # Fail closed: when this record cannot be written (InternalServerError) nothing has
        # changed yet, and nothing will.
        audit.write(intent_fields(ctx, operation, request))


def _with_stored_settings(
    ctx: RequestContext, operation: str, request: dict[str, Any]
) -> dict[str, Any]:
    """StartStreamProcessor names a processor; its stored Settings (collection, threshold) are
    what the policy must judge, whoever created it and under whichever policy."""
    if operation != "StartStreamProcessor" or not isinstance(request.get("Name"), str):
        return request
    try:
        stored = ProcessorStore(get_engine()).get(ctx.account_id, request["Name"])
    except ResourceNotFoundException:
        return request  # the handler answers that
    return {**request, "Settings": stored.definition.get("Settings")}


def record(
    ctx: RequestContext,
    operation: str,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    error: RekognitionError | None,
) -> None:
    """Append the audit record of a finished biometric or state-changing operation, durably.

    Raises InternalServerError when the record cannot be written: a face operation whose use
    cannot be recorded must not hand its result out. (A change made before this failed is not
    undone, but its intent record, written by `admit`, names it and the request.)
    """
    if getattr(error, "recorded", False) or operation not in RECORDED_OPERATIONS:
        return
    audit.write(operation_fields(ctx, operation, request, response, error))


def governed(
    ctx: RequestContext, operation: str, request: dict[str, Any], run: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Admit, run and record one operation outside the API server (CLI, Python callers)."""
    admit(ctx, operation, request)
    try:
        response = run()
    except RekognitionError as exc:
        record(ctx, operation, request, None, exc)
        raise
    except Exception:
        record(ctx, operation, request, None, InternalServerError("the operation failed"))
        raise
    record(ctx, operation, request, response, None)
    return response


def audit_admin_event(
    ctx: RequestContext, action: str, target: str, details: dict[str, Any] | None = None
) -> None:
    """Record an administrative change (access keys, policies, retention).

    `action` is e.g. "CreateAccessKey" or "PutPolicy", `target` what it changed (a key id, a
    collection); `details` must hold no secret.
    """
    fields = base_fields(ctx, "admin")
    fields.update({"action": action, "target": target, "details": details or {}})
    audit.write(fields)
