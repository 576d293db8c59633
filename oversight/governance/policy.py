"""Per-access-key policies: what a key may do with faces, stored in the metadata store.

A key without its own policy falls back to the default policy (key "*"); with neither, everything
is allowed (a fresh single-user install). A policy judges what a request reaches (`catalog.Reach`,
resolved by the gate from the request and stored state), not only the request's members. Every
refusal explains the rule it applies; a threshold below a key's minimum is refused, never
silently raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from ..errors import AccessDeniedException, InvalidParameterException
from ..review.clause import ReviewClause
from ..store import get_engine
from .catalog import Reach, Threshold
from .tables import policies

DEFAULT_KEY = "*"
_ACCESS_KEY = re.compile(r"[A-Z0-9]{16,128}")


class PolicyRefusal(AccessDeniedException):
    """AccessDeniedException raised by a policy rule; `rule` names it for the audit log."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Policy:
    access_key_id: str
    allowed_operations: list[str] | None = None
    allowed_collections: list[str] | None = None
    min_match_threshold: float | None = None
    max_faces: int | None = None
    allow_stream_search: bool = True
    rate_limit_per_minute: int | None = None
    require_purpose: bool = False
    # {"reviewers": N, "operations": [...], "collections": [...]}: 1:N matches are withheld
    # until N reviewers confirm them (review.clause); `reviewer`: this key may review.
    review: dict[str, Any] | None = None
    reviewer: bool = False
    # Refuse 1:N searches (and skip live stream matches) of probe faces whose estimated age is
    # below this (governance/minors.py; the age model's error is in docs/ACCOUNTABILITY.md).
    min_probe_age: float | None = None

    def __post_init__(self) -> None:
        ReviewClause.from_json(self.review)  # refuses a malformed clause before it is stored
        if self.min_probe_age is not None and not 0 < self.min_probe_age <= 120:
            raise InvalidParameterException("min_probe_age must be an age in years (1 to 120)")

    @property
    def review_clause(self) -> ReviewClause | None:
        return ReviewClause.from_json(self.review)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def check(self, operation: str, reach: Reach, purpose: str | None) -> None:
        """Raise PolicyRefusal naming the first rule the request, and what it reaches, breaks."""
        who = f"the policy of access key {self.access_key_id}"
        if self.allowed_operations is not None and operation not in self.allowed_operations:
            raise PolicyRefusal(
                "operation",
                f"{who} does not allow {operation}; allowed: "
                f"{', '.join(sorted(self.allowed_operations)) or 'none'}",
            )
        if self.require_purpose and not (purpose or "").strip():
            raise PolicyRefusal(
                "purpose",
                f"{who} requires a purpose for every request: send it in the "
                "X-Oversight-Purpose header (for example a case number)",
            )
        if self.allowed_collections is not None:
            for collection in reach.collections:
                if collection not in self.allowed_collections:
                    raise PolicyRefusal(
                        "collection", f"{who} does not allow collection {collection!r}"
                    )
        clause = self.review_clause
        if clause is not None and clause.refuses(operation, reach.collections):
            raise PolicyRefusal(
                "review",
                f"{who} puts matches in {', '.join(reach.collections)} under human review; "
                f"{operation} would show who matched without it. Leave the collection out, or "
                "narrow the review clause's collections or operations",
            )
        for threshold in reach.thresholds:
            self._check_threshold(who, operation, threshold)
        for param, asked in reach.max_results:
            self._check_max_faces(who, operation, param, asked)
        if not self.allow_stream_search and reach.live_search:
            raise PolicyRefusal(
                "stream_search", f"{who} does not allow face search on live streams"
            )

    def _check_threshold(self, who: str, operation: str, threshold: Threshold) -> None:
        if self.min_match_threshold is None or threshold.value >= self.min_match_threshold:
            return
        stated = f"{threshold.value:g}" if threshold.stated else f"the default {threshold.value:g}"
        advice = (
            f": send {threshold.member}={self.min_match_threshold:g} or higher"
            if threshold.source == "this request" else ""
        )
        raise PolicyRefusal(
            "threshold",
            f"{who} requires {threshold.member} >= {self.min_match_threshold:g} for {operation}; "
            f"{threshold.source} uses {stated}. Oversight refuses instead of raising it "
            f"silently{advice}",
        )

    def _check_max_faces(self, who: str, operation: str, param: str, asked: int | None) -> None:
        if self.max_faces is None:
            return
        if asked is None or asked > self.max_faces:
            stated = "leaves it out" if asked is None else f"asks for {asked}"
            raise PolicyRefusal(
                "max_faces",
                f"{who} returns at most {self.max_faces} matches from {operation}; this "
                f"request {stated}: send {param}={self.max_faces} or fewer",
            )


_COLUMNS = tuple(f.name for f in fields(Policy))


def get_policy(access_key_id: str | None) -> Policy | None:
    """The policy governing `access_key_id`: its own, else the default, else None."""
    keys = [DEFAULT_KEY] if access_key_id is None else [access_key_id, DEFAULT_KEY]
    with get_engine().connect() as connection:
        rows = connection.execute(
            select(policies).where(policies.c.access_key_id.in_(keys))
        ).mappings().all()
    by_key = {row["access_key_id"]: row for row in rows}
    for key in keys:
        if key in by_key:
            return Policy(**{name: by_key[key][name] for name in _COLUMNS})
    return None


def list_policies() -> list[Policy]:
    with get_engine().connect() as connection:
        rows = connection.execute(select(policies).order_by(policies.c.access_key_id)).mappings()
        return [Policy(**{name: row[name] for name in _COLUMNS}) for row in rows]


def put_policy(policy: Policy, record: Callable[[], None] | None = None) -> None:
    """Create or replace the policy of `policy.access_key_id`; `record()` (its audit record)
    runs inside the transaction, so when it raises nothing changed."""
    if policy.access_key_id != DEFAULT_KEY and not _ACCESS_KEY.fullmatch(policy.access_key_id):
        raise InvalidParameterException(
            f"{policy.access_key_id!r} is not an access key id (16-128 letters and digits) or '*'"
        )
    values = {**policy.to_json(), "updated_at": datetime.now(UTC)}
    with get_engine().begin() as connection:
        connection.execute(
            delete(policies).where(policies.c.access_key_id == policy.access_key_id)
        )
        connection.execute(policies.insert().values(**values))
        if record is not None:
            record()


def delete_policy(access_key_id: str, record: Callable[[], None] | None = None) -> bool:
    """Remove a key's policy; True when there was one (then `record()` runs inside the
    transaction: when it raises, the policy stays)."""
    with get_engine().begin() as connection:
        result = connection.execute(
            delete(policies).where(policies.c.access_key_id == access_key_id)
        )
        if result.rowcount > 0 and record is not None:
            record()
    return result.rowcount > 0
