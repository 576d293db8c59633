"""The stream processor store: definitions and status of each account's stream processors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import ResourceAlreadyExistsException, ResourceNotFoundException
from .jobs import from_row
from .tables import stream_processors

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

    def set(self, account_id: str, name: str, **values: Any) -> None:
        values["updated_at"] = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(update(stream_processors).where(
                stream_processors.c.account_id == account_id, stream_processors.c.name == name,
            ).values(**values))

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

    def delete(self, account_id: str, name: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(stream_processors).where(
                stream_processors.c.account_id == account_id, stream_processors.c.name == name,
            ))
