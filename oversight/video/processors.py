"""The stream processor store: definitions and status of each account's stream processors, and
the lease of the node that runs each (one node at a time; another takes over a stale lease)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import ResourceAlreadyExistsException, ResourceNotFoundException
from .jobs import from_row
from .tables import stream_processors
from .worker import owner_is_gone

STOPPED, STARTING, RUNNING, FAILED, STOPPING, UPDATING = (
    "STOPPED", "STARTING", "RUNNING", "FAILED", "STOPPING", "UPDATING")


@dataclass(frozen=True)
class Processor:
    account_id: str
    name: str
    status: str
    status_message: str | None
    definition: dict[str, Any]
    access_key_id: str | None
    purpose: str | None
    session_id: str | None
    created_at: datetime
    updated_at: datetime
    owner: str | None = None
    heartbeat_at: datetime | None = None


class ProcessorStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, account_id: str, name: str, definition: dict[str, Any],
               access_key_id: str | None, purpose: str | None) -> Processor:
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as connection:
                connection.execute(stream_processors.insert().values(
                    account_id=account_id, name=name, status=STOPPED, definition=definition,
                    access_key_id=access_key_id, purpose=purpose, created_at=now, updated_at=now,
                ))
        except IntegrityError as exc:
            raise ResourceAlreadyExistsException(
                f"Stream processor {name} already exists") from exc
        return self.get(account_id, name)

    def get(self, account_id: str, name: str) -> Processor:
        with self.engine.connect() as connection:
            row = connection.execute(select(stream_processors).where(
                stream_processors.c.account_id == account_id, stream_processors.c.name == name,
            )).first()
        if row is None:
            raise ResourceNotFoundException(f"Stream processor {name} was not found")
        return from_row(Processor, row)

    def list(self, account_id: str | None = None) -> list[Processor]:
        query = select(stream_processors).order_by(stream_processors.c.name)
        if account_id is not None:
            query = query.where(stream_processors.c.account_id == account_id)
        with self.engine.connect() as connection:
            return [from_row(Processor, row) for row in connection.execute(query)]

    def set(self, account_id: str, name: str, held_by: str | None = None,
            **values: Any) -> bool:
        """Change the processor (only while `held_by` holds its lease, when given); False when
        no row changed."""
        values["updated_at"] = datetime.now(UTC)
        where = [stream_processors.c.account_id == account_id, stream_processors.c.name == name]
        if held_by is not None:
            where.append(stream_processors.c.owner == held_by)
        with self.engine.begin() as connection:
            return bool(connection.execute(
                update(stream_processors).where(*where).values(**values)).rowcount)

    def update_tags(self, account_id: str, name: str, add: dict[str, str],
                    remove: Sequence[str] = ()) -> None:
        """Change the processor's tags (kept in its definition, as CreateStreamProcessor's
        Tags); ResourceNotFoundException if it does not exist."""
        where = (stream_processors.c.account_id == account_id,
                 stream_processors.c.name == name)
        with self.engine.begin() as connection:
            definition = connection.execute(
                select(stream_processors.c.definition).where(*where).with_for_update()
            ).scalar_one_or_none()
            if definition is None:
                raise ResourceNotFoundException(f"Stream processor {name} was not found")
            tags = {k: v for k, v in (definition.get("Tags") or {}).items() if k not in remove}
            tags.update(add)
            connection.execute(update(stream_processors).where(*where).values(
                definition={**definition, "Tags": tags}))

    # -- leases ------------------------------------------------------------------------------
    def claim(self, account_id: str, name: str, owner: str,
              stale_before: datetime | None = None) -> Processor | None:
        """Take the lease of a processor that should run (RUNNING or STARTING) and that nobody
        live holds: no owner, or (with `stale_before`) a heartbeat older than it. None if not."""
        free = stream_processors.c.owner.is_(None)
        if stale_before is not None:
            free = or_(free, stream_processors.c.heartbeat_at < stale_before)
        with self.engine.begin() as connection:
            taken = connection.execute(update(stream_processors).where(and_(
                stream_processors.c.account_id == account_id, stream_processors.c.name == name,
                stream_processors.c.status.in_((RUNNING, STARTING)), free,
            )).values(owner=owner, heartbeat_at=datetime.now(UTC))).rowcount
        return self.get(account_id, name) if taken else None

    def start(self, account_id: str, name: str, owner: str, **values: Any) -> bool:
        """STOPPED or FAILED -> STARTING under `owner`'s lease, at most once however many nodes
        ask at the same moment; False when it is not stopped."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            return bool(connection.execute(update(stream_processors).where(
                stream_processors.c.account_id == account_id, stream_processors.c.name == name,
                stream_processors.c.status.in_((STOPPED, FAILED)),
            ).values(status=STARTING, owner=owner, heartbeat_at=now, updated_at=now,
                     **values)).rowcount)

    def lease_is_live(self, processor: Processor, stale_before: datetime) -> bool:
        """Whether a node that is still alive holds the processor's lease."""
        return (processor.owner is not None and not owner_is_gone(processor.owner)
                and processor.heartbeat_at is not None and processor.heartbeat_at >= stale_before)

    def heartbeat(self, account_id: str, name: str, owner: str) -> str | None:
        """Refresh the lease; the processor's status, or None when the lease is lost (taken
        over, or the processor deleted)."""
        where = (stream_processors.c.account_id == account_id,
                 stream_processors.c.name == name, stream_processors.c.owner == owner)
        with self.engine.begin() as connection:
            if not connection.execute(update(stream_processors).where(*where).values(
                    heartbeat_at=datetime.now(UTC))).rowcount:
                return None
            return connection.execute(
                select(stream_processors.c.status).where(*where)).scalar_one_or_none()

    def release(self, account_id: str, name: str, owner: str) -> None:
        """Give the lease back (clean shutdown): another node, or the next start, resumes it."""
        with self.engine.begin() as connection:
            connection.execute(update(stream_processors).where(
                stream_processors.c.account_id == account_id, stream_processors.c.name == name,
                stream_processors.c.owner == owner).values(owner=None))

    def delete(self, account_id: str, name: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(stream_processors).where(
                stream_processors.c.account_id == account_id, stream_processors.c.name == name,
            ))
