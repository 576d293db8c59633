"""Review cases: a withheld match, the people who judge it, and its end.

A case opens when a key under a review clause gets matches; the answer goes out empty with the
case id. Reviewer keys of the same account decide it: after `reviewers_required` distinct
confirmations it is CONFIRMED and the withheld answer is released to the requester; one
rejection closes it as REJECTED (not a match); an open case past `expires_at` is EXPIRED.
A closed or expired case keeps no face image: its probe crop is erased in the same transaction.
Every change runs its `record()` (the audit record) inside the transaction, so a change that
cannot be audited does not happen.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.engine import Connection

from ..collections.tables import faces
from ..errors import InvalidParameterException, ResourceInUseException, ResourceNotFoundException
from ..store import get_engine
from .tables import cases, decisions, reference_crops

OPEN, CONFIRMED, REJECTED, EXPIRED = "OPEN", "CONFIRMED", "REJECTED", "EXPIRED"
STATUSES = (OPEN, CONFIRMED, REJECTED, EXPIRED)
CONFIRM, REJECT = "CONFIRM", "REJECT"
MAX_REASON_CHARS = 1024
_BATCH = 500


@dataclass(frozen=True)
class Decision:
    reviewer_key: str
    decision: str
    reason: str
    decided_at: datetime


@dataclass(frozen=True, kw_only=True)
class NewCase:
    account_id: str
    requester_key: str | None
    purpose: str | None
    operation: str
    request_id: str | None
    collection_id: str | None
    withheld: dict[str, Any]
    candidates: list[dict[str, Any]]
    probe_crop: bytes | None
    probe_source: str | None
    reviewers_required: int
    expires_at: datetime
    # One case per source (a page of a video job's results read twice opens one case).
    source_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Case(NewCase):
    case_id: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    decisions: list[Decision] = field(default_factory=list)

    @property
    def confirmations(self) -> int:
        return sum(d.decision == CONFIRM for d in self.decisions)


def open_case(new: NewCase, record: Callable[[str], None]) -> str:
    """Store a case (or find the one already opened for `new.source_key`) and return its id;
    `record(case_id)` writes its audit record inside the transaction."""
    with get_engine().begin() as connection:
        if new.source_key is not None:
            found = connection.scalar(select(cases.c.case_id).where(
                cases.c.account_id == new.account_id, cases.c.source_key == new.source_key))
            if found is not None:
                return str(found)
        case_id = str(uuid.uuid4())
        connection.execute(cases.insert().values(
            case_id=case_id, status=OPEN, created_at=datetime.now(UTC), closed_at=None,
            **{name: getattr(new, name) for name in NewCase.__dataclass_fields__},
        ))
        record(case_id)
    return case_id


def get_case(account_id: str, case_id: str) -> Case:
    """The account's case (ResourceNotFoundException for another account's or none)."""
    with get_engine().connect() as connection:
        row = connection.execute(select(cases).where(
            cases.c.case_id == case_id, cases.c.account_id == account_id)).mappings().first()
        if row is None:
            raise ResourceNotFoundException(f"Review case {case_id} not found.")
        return _case(connection, row)


def list_cases(
    account_id: str,
    *,
    requester_key: str | None = None,
    reviewable_by: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[Case]:
    """The account's cases, oldest first: those `requester_key` asked for, or those
    `reviewable_by` may still decide (open, someone else's, not yet decided by them)."""
    query = select(cases).where(cases.c.account_id == account_id)
    if requester_key is not None:
        query = query.where(cases.c.requester_key == requester_key)
    if reviewable_by is not None:
        decided = exists().where(and_(decisions.c.case_id == cases.c.case_id,
                                      decisions.c.reviewer_key == reviewable_by))
        query = query.where(cases.c.status == OPEN, ~decided,
                            func.coalesce(cases.c.requester_key, "") != reviewable_by)
    if status is not None:
        query = query.where(cases.c.status == status)
    query = query.order_by(cases.c.created_at, cases.c.case_id).offset(offset).limit(limit)
    with get_engine().connect() as connection:
        return _cases(connection, connection.execute(query).mappings().all())


def decide(
    account_id: str,
    case_id: str,
    reviewer_key: str,
    decision: str,
    reason: str,
    record: Callable[[Case], None],
) -> Case:
    """Record one reviewer's decision and close the case when it is settled; `record(case)` (the
    audit record, given the case as it now stands) runs inside the transaction."""
    if decision not in (CONFIRM, REJECT):
        raise InvalidParameterException(f"Decision must be {CONFIRM} or {REJECT}.")
    if not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise InvalidParameterException(
            f"A decision needs a reason (1-{MAX_REASON_CHARS} characters).")
    now = datetime.now(UTC)
    with get_engine().begin() as connection:
        _lock(connection, case_id)
        row = connection.execute(select(cases).where(
            cases.c.case_id == case_id, cases.c.account_id == account_id,
        )).mappings().first()
        if row is None:
            raise ResourceNotFoundException(f"Review case {case_id} not found.")
        if row["status"] != OPEN or _aware(row["expires_at"]) <= now:
            raise ResourceInUseException(
                f"Review case {case_id} is {row['status'].lower()}: it takes no more decisions.")
        if row["requester_key"] == reviewer_key:
            raise InvalidParameterException(
                "A reviewer cannot review a match they asked for: another reviewer must.")
        already = connection.scalar(select(decisions.c.decision).where(
            decisions.c.case_id == case_id, decisions.c.reviewer_key == reviewer_key))
        if already is not None:
            raise ResourceInUseException(
                f"{reviewer_key} already decided review case {case_id} ({already}).")
        connection.execute(decisions.insert().values(
            case_id=case_id, reviewer_key=reviewer_key, decision=decision, reason=reason,
            decided_at=now))
        settled = _case(connection, row)
        status = REJECTED if decision == REJECT else (
            CONFIRMED if settled.confirmations >= settled.reviewers_required else OPEN)
        if status != OPEN:
            _close(connection, case_id, status, now)
        case = _case(connection, connection.execute(
            select(cases).where(cases.c.case_id == case_id)).mappings().one())
        record(case)
        return case


def expire_due(
    now: datetime, record: Callable[[Case], None], closed: Callable[[Case], None]
) -> int:
    """Close every open case past its expiry, or whose matched faces are all deleted (by
    DeleteFaces, DeleteCollection or a retention rule set after it opened: the probe must not
    outlive them, nor their identity be released), as EXPIRED, erasing its probe crop;
    `record(case)` (its receipt) runs inside each case's transaction, `closed(case)` after it
    commits. Returns how many expired."""
    with get_engine().connect() as connection:
        due = list(connection.scalars(select(cases.c.case_id).where(
            cases.c.status == OPEN, cases.c.expires_at <= now)))
        due = list(dict.fromkeys(due + _orphaned(connection)))
    for case_id in due:
        with get_engine().begin() as connection:
            _lock(connection, case_id)
            row = connection.execute(select(cases).where(
                cases.c.case_id == case_id, cases.c.status == OPEN)).mappings().first()
            if row is None:
                continue  # decided meanwhile
            _close(connection, case_id, EXPIRED, now)
            expired = _case(connection, {**row, "status": EXPIRED, "probe_crop": None,
                                         "closed_at": now, "withheld": {}})
            record(expired)
        closed(expired)
    return len(due)


def _orphaned(connection: Connection) -> list[str]:
    """Open cases matched with stored faces none of which exists any more."""
    open_cases = connection.execute(select(cases.c.case_id, cases.c.candidates).where(
        cases.c.status == OPEN)).all()
    matched = {case_id: {c["FaceId"] for c in candidates if c.get("FaceId")}
               for case_id, candidates in open_cases}
    wanted = sorted(set().union(*matched.values()))
    existing: set[str] = set()
    for start in range(0, len(wanted), _BATCH):  # within SQLite's bound on parameters
        existing.update(connection.scalars(select(faces.c.face_id).where(
            faces.c.face_id.in_(wanted[start:start + _BATCH]))))
    return [case_id for case_id, face_ids in matched.items()
            if face_ids and not face_ids & existing]


def reference_crop(face_id: str) -> bytes | None:
    with get_engine().connect() as connection:
        return connection.scalar(
            select(reference_crops.c.jpeg).where(reference_crops.c.face_id == face_id))


def keep_reference_crops(crops: dict[str, bytes]) -> None:
    """Store the reference crop of each newly indexed face (FaceId -> JPEG)."""
    if not crops:
        return
    with get_engine().begin() as connection:
        connection.execute(reference_crops.insert(), [
            {"face_id": face_id, "jpeg": jpeg}
            for face_id, jpeg in crops.items()
        ])


def expiry(now: datetime, hours: float, retention: timedelta | None) -> datetime:
    """When a case opened now expires: after `hours`, or sooner when the collection's retention
    is shorter (the probe must not outlive the faces it was compared with)."""
    limit = timedelta(hours=hours)
    return now + (min(limit, retention) if retention is not None else limit)


def _lock(connection: Connection, case_id: str) -> None:
    """Hold the case until the transaction ends, before reading it: a decision or an expiry
    judges the case as it stands, never as another transaction is changing it. A write comes
    first because SELECT ... FOR UPDATE locks nothing on SQLite (whose driver begins the
    transaction only at the first write); on PostgreSQL this write locks the row the same way."""
    connection.execute(update(cases).where(cases.c.case_id == case_id)
                       .values(case_id=cases.c.case_id))


def _close(connection: Connection, case_id: str, status: str, now: datetime) -> None:
    """Close a case: its probe crop goes; so does the withheld answer when it will never be
    released (rejected: not a match; expired). The audit log keeps which faces were matched."""
    released = {} if status == CONFIRMED else {"withheld": {}}
    connection.execute(update(cases).where(cases.c.case_id == case_id).values(
        status=status, closed_at=now, probe_crop=None, **released))


def _case(connection: Connection, row: Any) -> Case:
    return _cases(connection, [row])[0]


def _cases(connection: Connection, rows: Sequence[Any]) -> list[Case]:
    """Cases from their rows, with every case's decisions read in one query."""
    by_case: dict[str, list[Decision]] = {row["case_id"]: [] for row in rows}
    if by_case:
        found = connection.execute(select(decisions).where(
            decisions.c.case_id.in_(list(by_case))).order_by(decisions.c.decided_at)).mappings()
        for d in found:
            by_case[d["case_id"]].append(Decision(d["reviewer_key"], d["decision"], d["reason"],
                                                  _aware(d["decided_at"])))
    out = []
    for row in rows:
        values = {name: row[name] for name in Case.__dataclass_fields__ if name != "decisions"}
        for name in ("created_at", "expires_at", "closed_at"):
            if values[name] is not None:
                values[name] = _aware(values[name])
        out.append(Case(**values, decisions=by_case[row["case_id"]]))
    return out


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
