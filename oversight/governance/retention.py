"""Retention: a maximum age per collection, and the sweeper that deletes faces older than it.

Deletion goes through the collections service (store and vector index together); its deletion
hook writes the receipts. The sweeper only reads which faces are old enough.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from ..collections import Requester, collection_service
from ..collections import tables as collection_tables
from ..errors import InvalidParameterException, ResourceNotFoundException
from ..store import get_engine
from .receipts import watch_deletions
from .tables import retention

log = logging.getLogger(__name__)

REASON = "retention"
MAX_AGE_DAYS = 100 * 365
SWEEP_INTERVAL_SECONDS = 3600.0
# Rekognition's CollectionId pattern and length.
_COLLECTION_ID = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_BATCH = 500


@dataclass(frozen=True)
class RetentionRule:
    account_id: str
    collection_id: str
    max_age_days: float

    def to_json(self) -> dict[str, object]:
        return {
            "AccountId": self.account_id, "CollectionId": self.collection_id,
            "MaxAgeDays": self.max_age_days,
        }


@dataclass(frozen=True)
class SweepResult:
    rule: RetentionRule
    deleted: int
    # Why the collection was skipped (e.g. it no longer exists), if it was.
    skipped: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {**self.rule.to_json(), "FacesDeleted": self.deleted}
        if self.skipped:
            out["Skipped"] = self.skipped
        return out


def put_rule(rule: RetentionRule, record: Callable[[], None] | None = None) -> None:
    """Create or replace a rule; `record()` runs inside the transaction (raises: no change)."""
    if not 0 < rule.max_age_days <= MAX_AGE_DAYS:
        raise InvalidParameterException(
            f"the maximum face age must be more than 0 days and at most {MAX_AGE_DAYS}"
        )
    if not _COLLECTION_ID.fullmatch(rule.collection_id):
        raise InvalidParameterException(f"{rule.collection_id!r} is not a collection id")
    with get_engine().begin() as connection:
        connection.execute(delete(retention).where(
            retention.c.account_id == rule.account_id,
            retention.c.collection_id == rule.collection_id,
        ))
        connection.execute(retention.insert().values(
            account_id=rule.account_id, collection_id=rule.collection_id,
            max_age_days=rule.max_age_days, updated_at=datetime.now(UTC),
        ))
        if record is not None:
            record()


def delete_rule(
    account_id: str, collection_id: str, record: Callable[[], None] | None = None
) -> bool:
    """Remove a rule; True when there was one (then `record()` runs inside the transaction)."""
    with get_engine().begin() as connection:
        result = connection.execute(delete(retention).where(
            retention.c.account_id == account_id, retention.c.collection_id == collection_id,
        ))
        if result.rowcount > 0 and record is not None:
            record()
    return result.rowcount > 0


def max_age(account_id: str, collection_id: str) -> timedelta | None:
    """How long the collection keeps faces, when it has a rule."""
    with get_engine().connect() as connection:
        days = connection.scalar(select(retention.c.max_age_days).where(
            retention.c.account_id == account_id, retention.c.collection_id == collection_id))
    return None if days is None else timedelta(days=days)


def list_rules() -> list[RetentionRule]:
    with get_engine().connect() as connection:
        rows = connection.execute(
            select(retention).order_by(retention.c.account_id, retention.c.collection_id)
        )
        return [RetentionRule(r.account_id, r.collection_id, r.max_age_days) for r in rows]


def _expired_face_ids(collection_pk: int, cutoff: datetime) -> list[str]:
    faces = collection_tables.faces
    query = (
        select(faces.c.face_id)
        .where(faces.c.collection_pk == collection_pk, faces.c.indexed_at < cutoff)
        .order_by(faces.c.seq)
        .limit(_BATCH)
    )
    with get_engine().connect() as connection:
        return list(connection.scalars(query))


def sweep(now: datetime | None = None) -> list[SweepResult]:
    """Delete every face older than its collection's maximum age; one result per rule."""
    watch_deletions()
    service = collection_service()
    now = now or datetime.now(UTC)
    # Receipts of this sweep share one id, as an API request's share its request id.
    by = Requester(request_id=f"retention-sweep-{uuid.uuid4()}")
    results = []
    for rule in list_rules():
        try:
            collection = service.collection(rule.account_id, rule.collection_id)
        except ResourceNotFoundException:
            results.append(SweepResult(rule, 0, "the collection does not exist"))
            continue
        cutoff = now - timedelta(days=rule.max_age_days)
        deleted = 0
        while expired := _expired_face_ids(collection.pk, cutoff):
            # force: an expired face goes even when it is associated to a user.
            outcome = service.delete_faces(
                rule.account_id, rule.collection_id, expired, REASON, force=True, by=by
            )
            if not outcome.deleted:
                break  # deleted meanwhile by someone else
            deleted += len(outcome.deleted)
        results.append(SweepResult(rule, deleted))
    return results


def run_periodically(stop: threading.Event, interval_seconds: float) -> None:
    """Sweep (old faces, expired review cases) now and then every `interval_seconds` until
    `stop` is set."""
    from .review import expire_cases  # review reads retention's max_age

    while True:
        try:
            sweep()
            expire_cases()
        except Exception:
            # A passing store outage must not end retention for the server's lifetime.
            log.exception("retention sweep failed; retrying in %s s", interval_seconds)
        if stop.wait(interval_seconds):
            return


def start_sweeper(interval_seconds: float = SWEEP_INTERVAL_SECONDS) -> Callable[[], None]:
    """Run the sweeper in a daemon thread (a server calls this at start-up); returns `stop`."""
    stop = threading.Event()
    worker = threading.Thread(
        target=run_periodically, args=(stop, interval_seconds), name="retention", daemon=True
    )
    worker.start()

    def stop_sweeper() -> None:
        stop.set()
        worker.join(timeout=30)

    return stop_sweeper
