"""Administrative changes to governance; each leaves an audit record naming who made it, written
inside the change's transaction: a change whose record cannot be written does not happen."""

from __future__ import annotations

from ..operations.context import RequestContext
from . import policy, retention
from .gate import audit_admin_event


def set_policy(ctx: RequestContext, new: policy.Policy) -> None:
    policy.put_policy(
        new, lambda: audit_admin_event(ctx, "PutPolicy", new.access_key_id, new.to_json())
    )


def remove_policy(ctx: RequestContext, access_key_id: str) -> bool:
    return policy.delete_policy(
        access_key_id, lambda: audit_admin_event(ctx, "DeletePolicy", access_key_id)
    )


def set_retention(ctx: RequestContext, rule: retention.RetentionRule) -> None:
    retention.put_rule(
        rule, lambda: audit_admin_event(ctx, "PutRetention", rule.collection_id, rule.to_json())
    )


def remove_retention(ctx: RequestContext, account_id: str, collection_id: str) -> bool:
    return retention.delete_rule(
        account_id, collection_id,
        lambda: audit_admin_event(ctx, "DeleteRetention", collection_id, {"AccountId": account_id}),
    )
