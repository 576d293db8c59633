"""Per-access-key policies: what a key may do with faces, stored in the metadata store.

A key without its own policy falls back to the default policy (key "*"); with neither, everything
is allowed (a fresh single-user install). Every refusal explains the rule it applies; a request
below a key's minimum threshold is refused, never silently raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from ..errors import AccessDeniedException, InvalidParameterException
from ..store import get_engine
from .tables import policies

DEFAULT_KEY = "*"
_ACCESS_KEY = re.compile(r"[A-Z0-9]{16,128}")

# Rekognition's documented default when the client leaves the threshold out.
DEFAULT_MATCH_THRESHOLD = 80.0

# Where each operation carries the similarity threshold a policy bounds from below.
_THRESHOLD_PATHS: dict[str, tuple[str, ...]] = {
    "SearchFaces": ("FaceMatchThreshold",),
    "SearchFacesByImage": ("FaceMatchThreshold",),
    "SearchUsers": ("UserMatchThreshold",),
    "SearchUsersByImage": ("UserMatchThreshold",),
    "CompareFaces": ("SimilarityThreshold",),
    "StartFaceSearch": ("FaceMatchThreshold",),
    "CreateStreamProcessor": ("Settings", "FaceSearch", "FaceMatchThreshold"),
    # Judged on the stored definition (gate.admit adds its Settings to the request).
    "StartStreamProcessor": ("Settings", "FaceSearch", "FaceMatchThreshold"),
}
_STREAM_SEARCH_OPERATIONS = frozenset({"CreateStreamProcessor", "StartStreamProcessor"})

# Where each operation carries the number of matches it may return.
_MAX_RESULTS_PARAM: dict[str, str] = {
    "SearchFaces": "MaxFaces",
    "SearchFacesByImage": "MaxFaces",
    "SearchUsers": "MaxUsers",
    "SearchUsersByImage": "MaxUsers",
}

# Request members naming a collection the operation reads or changes.
_COLLECTION_PATHS: tuple[tuple[str, ...], ...] = (
    ("CollectionId",),
    ("Settings", "FaceSearch", "CollectionId"),
    ("SpareCollectionId",),
)


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def check(self, operation: str, request: dict[str, Any], purpose: str | None) -> None:
        """Raise PolicyRefusal naming the first rule the request breaks."""
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
            for collection in request_collections(request):
                if collection not in self.allowed_collections:
                    raise PolicyRefusal(
                        "collection", f"{who} does not allow collection {collection!r}"
                    )
        self._check_threshold(who, operation, request)
        self._check_max_faces(who, operation, request)
        if not self.allow_stream_search and operation in _STREAM_SEARCH_OPERATIONS:
            if member(request, ("Settings", "FaceSearch")) is not None:
                raise PolicyRefusal(
                    "stream_search", f"{who} does not allow face search on live streams"
                )

    def _check_threshold(self, who: str, operation: str, request: dict[str, Any]) -> None:
        path = _THRESHOLD_PATHS.get(operation)
        if self.min_match_threshold is None or path is None:
            return
        if operation in _STREAM_SEARCH_OPERATIONS and member(request, path[:-1]) is None:
            return  # not a face-search processor
        asked = member(request, path)
        threshold = DEFAULT_MATCH_THRESHOLD if asked is None else float(asked)
        if threshold < self.min_match_threshold:
            stated = f"{threshold:g}" if asked is not None else f"the default {threshold:g}"
            raise PolicyRefusal(
                "threshold",
                f"{who} requires {path[-1]} >= {self.min_match_threshold:g} for {operation}; "
                f"this request uses {stated}. Oversight refuses instead of raising it silently: "
                f"send {path[-1]}={self.min_match_threshold:g} or higher",
            )

    def _check_max_faces(self, who: str, operation: str, request: dict[str, Any]) -> None:
        param = _MAX_RESULTS_PARAM.get(operation)
        if self.max_faces is None or param is None:
            return
        asked = request.get(param)
        if asked is None or int(asked) > self.max_faces:
            stated = "leaves it out" if asked is None else f"asks for {asked}"
            raise PolicyRefusal(
                "max_faces",
                f"{who} returns at most {self.max_faces} matches from {operation}; this "
                f"request {stated}: send {param}={self.max_faces} or fewer",
            )


def member(request: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = request
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def request_collections(request: dict[str, Any]) -> list[str]:
    """Every collection id the request names."""
    found = (member(request, path) for path in _COLLECTION_PATHS)
    return [value for value in found if isinstance(value, str)]


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
