"""The job store: stored-video jobs in the metadata store, with idempotency and worker leases.

A job is IN_PROGRESS from creation until a worker finishes it (SUCCEEDED or FAILED). A worker
holds a lease (`owner`, refreshed `heartbeat_at`); a job whose owner is gone is claimed again by
another worker, so a restart resumes it instead of leaving it IN_PROGRESS forever.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, and_, func, or_, select, update

from ..errors import (
    IdempotentParameterMismatchException,
    LimitExceededException,
    ResourceNotFoundException,
)
from .tables import video_jobs

IN_PROGRESS, SUCCEEDED, FAILED = "IN_PROGRESS", "SUCCEEDED", "FAILED"
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    job_id: str
    account_id: str
    operation: str
    status: str
    status_message: str | None
    request: dict[str, Any]
    source: dict[str, Any]
    video_metadata: dict[str, Any] | None
    results: dict[str, Any] | None
    progress: float
    cancel_requested: bool
    attempts: int
    owner: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    access_key_id: str | None = None
    purpose: str | None = None


def from_row(record: type[T], row: Any) -> T:
    """A record dataclass from a table row with the same column names; SQLite hands
    timezone-aware columns back naive, and they were stored in UTC."""
    values = {}
    for item in fields(record):  # type: ignore[arg-type]
        value = row._mapping[item.name]
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        values[item.name] = value
    return record(**values)


def request_hash(operation: str, request: dict[str, Any]) -> str:
    """What makes two requests with one ClientRequestToken the same request."""
    body = {k: v for k, v in request.items() if k != "ClientRequestToken"}
    canonical = json.dumps([operation, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        account_id: str,
        operation: str,
        request: dict[str, Any],
        source: dict[str, Any],
        max_in_progress: int | None = None,
        access_key_id: str | None = None,
        purpose: str | None = None,
    ) -> tuple[Job, bool]:
        """A new IN_PROGRESS job (started by `access_key_id` for `purpose`), or the one an
        earlier request with the same token made.

        Returns (job, created). The same ClientRequestToken with other parameters is refused;
        a new job beyond `max_in_progress` unfinished ones of the account is a
        LimitExceededException.
        """
        token = request.get("ClientRequestToken")
        digest = request_hash(operation, request)
        with self.engine.begin() as connection:
            if token:
                row = connection.execute(
                    select(video_jobs).where(
                        video_jobs.c.account_id == account_id,
                        video_jobs.c.operation == operation,
                        video_jobs.c.client_request_token == token,
                    )
                ).first()
                if row is not None:
                    if row.request_hash != digest:
                        raise IdempotentParameterMismatchException(
                            f"ClientRequestToken {token} was used with other parameters"
                        )
                    return from_row(Job, row), False
            if max_in_progress is not None:
                running = connection.execute(
                    select(func.count()).select_from(video_jobs).where(
                        video_jobs.c.account_id == account_id,
                        video_jobs.c.status == IN_PROGRESS)
                ).scalar_one()
                if running >= max_in_progress:
                    raise LimitExceededException(
                        f"An account may have at most {max_in_progress} video jobs in progress")
            values = {
                "job_id": uuid.uuid4().hex,
                "account_id": account_id,
                "operation": operation,
                "status": IN_PROGRESS,
                "status_message": None,
                "client_request_token": token,
                "request_hash": digest,
                "request": request,
                "source": source,
                "progress": 0.0,
                "cancel_requested": False,
                "attempts": 0,
                "created_at": datetime.now(UTC),
                "access_key_id": access_key_id,
                "purpose": purpose,
            }
            connection.execute(video_jobs.insert().values(**values))
            row = connection.execute(
                select(video_jobs).where(video_jobs.c.job_id == values["job_id"])
            ).one()
        return from_row(Job, row), True

    def get(self, account_id: str, job_id: str, operation: str | None = None) -> Job:
        """The caller's job (ResourceNotFoundException for another account's or kind's)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(video_jobs).where(
                    video_jobs.c.job_id == job_id, video_jobs.c.account_id == account_id
                )
            ).first()
        if row is None or (operation is not None and row.operation != operation):
            raise ResourceNotFoundException(f"Job {job_id} was not found")
        return from_row(Job, row)

    def claim(self, job_id: str, owner: str, stale_before: datetime | None = None) -> Job | None:
        """Take the lease of an unfinished job that nobody (live) holds; None if taken."""
        free = video_jobs.c.owner.is_(None)
        if stale_before is not None:
            free = or_(free, video_jobs.c.heartbeat_at < stale_before)
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(video_jobs)
                .where(and_(video_jobs.c.job_id == job_id, video_jobs.c.status == IN_PROGRESS,
                            free))
                .values(owner=owner, heartbeat_at=now, attempts=video_jobs.c.attempts + 1)
            ).rowcount
            if not taken:
                return None
            row = connection.execute(select(video_jobs).where(video_jobs.c.job_id == job_id)).one()
        return from_row(Job, row)

    def jobs_of(self, account_id: str, operation: str) -> list[Job]:
        """The account's jobs started by `operation`, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(video_jobs).where(video_jobs.c.account_id == account_id,
                                         video_jobs.c.operation == operation)
                .order_by(video_jobs.c.created_at, video_jobs.c.job_id)
            ).all()
        return [from_row(Job, row) for row in rows]

    def unfinished(self) -> list[Job]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(video_jobs).where(video_jobs.c.status == IN_PROGRESS)
                .order_by(video_jobs.c.created_at)
            ).all()
        return [from_row(Job, row) for row in rows]

    def heartbeat(self, job_id: str, owner: str, progress: float) -> bool:
        """Refresh the lease and progress; False when the lease was lost or cancel requested."""
        with self.engine.begin() as connection:
            updated = connection.execute(
                update(video_jobs)
                .where(video_jobs.c.job_id == job_id, video_jobs.c.owner == owner,
                       video_jobs.c.status == IN_PROGRESS)
                .values(heartbeat_at=datetime.now(UTC), progress=progress)
            ).rowcount
            if not updated:
                return False
            cancel = connection.execute(
                select(video_jobs.c.cancel_requested).where(video_jobs.c.job_id == job_id)
            ).scalar_one()
        return not cancel

    def release(self, job_id: str, owner: str) -> None:
        """Give the lease back (clean shutdown) so the next worker resumes the job at once."""
        with self.engine.begin() as connection:
            connection.execute(
                update(video_jobs)
                .where(video_jobs.c.job_id == job_id, video_jobs.c.owner == owner,
                       video_jobs.c.status == IN_PROGRESS)
                .values(owner=None)
            )

    def finish(
        self,
        job_id: str,
        owner: str | None,
        status: str,
        message: str | None = None,
        video_metadata: dict[str, Any] | None = None,
        results: dict[str, Any] | None = None,
    ) -> bool:
        """End a job; only its lease holder may (owner None: whoever holds it). False if lost."""
        condition = [video_jobs.c.job_id == job_id, video_jobs.c.status == IN_PROGRESS]
        if owner is not None:
            condition.append(video_jobs.c.owner == owner)
        with self.engine.begin() as connection:
            return bool(
                connection.execute(
                    update(video_jobs)
                    .where(*condition)
                    .values(
                        status=status,
                        status_message=message,
                        video_metadata=video_metadata,
                        results=results,
                        progress=100.0 if status == SUCCEEDED else video_jobs.c.progress,
                        finished_at=datetime.now(UTC),
                        owner=None,
                    )
                ).rowcount
            )

    def request_cancel(self, account_id: str, job_id: str) -> Job:
        """Ask the job's worker to stop; an unclaimed job fails at once."""
        job = self.get(account_id, job_id)
        with self.engine.begin() as connection:
            connection.execute(
                update(video_jobs).where(video_jobs.c.job_id == job_id)
                .values(cancel_requested=True)
            )
        if job.status == IN_PROGRESS and job.owner is None:
            self.finish(job_id, None, FAILED, "Cancelled before it started")
        return self.get(account_id, job_id)


def lease_cutoff(lease_seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=lease_seconds)
