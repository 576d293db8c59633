"""SQL for users (named groups of faces in a collection) and ClientRequestToken idempotency."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import (
    ConflictException,
    IdempotentParameterMismatchException,
    ResourceNotFoundException,
)
from . import tables
from .records import Collection


def request_digest(request: dict[str, Any]) -> str:
    """A stable digest of a request's parameters (the token itself excluded)."""
    params = {k: v for k, v in request.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


class UserStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- users ---------------------------------------------------------------------------------
    def create_user(self, collection: Collection, user_id: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(tables.users).values(
                        collection_pk=collection.pk,
                        user_id=user_id,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError as exc:
            raise ConflictException(f"The user id: {user_id} already exists") from exc

    def delete_user(self, collection: Collection, user_id: str) -> None:
        """Delete the user; its faces stay in the collection, no longer associated."""
        with self.engine.begin() as conn:
            removed = conn.execute(
                delete(tables.users).where(
                    tables.users.c.collection_pk == collection.pk,
                    tables.users.c.user_id == user_id,
                )
            ).rowcount
            if not removed:
                raise ResourceNotFoundException(f"The user id: {user_id} does not exist")
            conn.execute(
                update(tables.faces)
                .where(
                    tables.faces.c.collection_pk == collection.pk,
                    tables.faces.c.user_id == user_id,
                )
                .values(user_id=None)
            )

    def require_user(self, collection: Collection, user_id: str) -> None:
        with self.engine.connect() as conn:
            exists = conn.execute(
                select(tables.users.c.pk).where(
                    tables.users.c.collection_pk == collection.pk,
                    tables.users.c.user_id == user_id,
                )
            ).first()
        if exists is None:
            raise ResourceNotFoundException(f"The user id: {user_id} does not exist")

    def list_users(
        self, collection: Collection, after_pk: int, limit: int
    ) -> list[tuple[int, str, int]]:
        """(key, user id, number of faces) in creation order, after the user keyed `after_pk`."""
        face_count = (
            select(func.count())
            .where(
                tables.faces.c.collection_pk == collection.pk,
                tables.faces.c.user_id == tables.users.c.user_id,
            )
            .scalar_subquery()
        )
        query = (
            select(tables.users.c.pk, tables.users.c.user_id, face_count)
            .where(tables.users.c.collection_pk == collection.pk, tables.users.c.pk > after_pk)
            .order_by(tables.users.c.pk)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(row[0], row[1], row[2]) for row in conn.execute(query)]

    def user_faces(self, collection: Collection, user_id: str) -> tuple[list[str], np.ndarray]:
        """FaceIds and embeddings of the user's faces."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(tables.faces.c.face_id, tables.faces.c.embedding).where(
                    tables.faces.c.collection_pk == collection.pk,
                    tables.faces.c.user_id == user_id,
                )
            ).all()
        vectors = [np.frombuffer(row.embedding, dtype=np.float32) for row in rows]
        return [row.face_id for row in rows], (
            np.vstack(vectors) if vectors else np.empty((0, 0), dtype=np.float32)
        )

    def faces_for_association(
        self, collection: Collection, face_ids: Sequence[str]
    ) -> dict[str, tuple[str | None, np.ndarray]]:
        """face_id -> (current user id, embedding) for the faces that exist."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    tables.faces.c.face_id, tables.faces.c.user_id, tables.faces.c.embedding
                ).where(
                    tables.faces.c.collection_pk == collection.pk,
                    tables.faces.c.face_id.in_(list(face_ids)),
                )
            ).all()
        return {
            row.face_id: (row.user_id, np.frombuffer(row.embedding, dtype=np.float32))
            for row in rows
        }

    def set_face_user(
        self,
        collection: Collection,
        face_ids: Sequence[str],
        user_id: str | None,
        expected: str | None,
    ) -> list[str]:
        """Set the user of faces currently associated to `expected`; returns those changed."""
        if not face_ids:
            return []
        with self.engine.begin() as conn:
            condition = (
                tables.faces.c.user_id.is_(None)
                if expected is None
                else tables.faces.c.user_id == expected
            )
            changed = conn.execute(
                update(tables.faces)
                .where(
                    tables.faces.c.collection_pk == collection.pk,
                    tables.faces.c.face_id.in_(list(face_ids)),
                    condition,
                )
                .values(user_id=user_id)
                .returning(tables.faces.c.face_id)
            ).scalars()
            return list(changed)

    # -- idempotency ---------------------------------------------------------------------------
    def remembered(
        self, account_id: str, operation: str, token: str, digest: str
    ) -> dict[str, Any] | None:
        """The response already given for this token, or None if it is new."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tables.request_tokens).where(
                    tables.request_tokens.c.account_id == account_id,
                    tables.request_tokens.c.operation == operation,
                    tables.request_tokens.c.token == token,
                )
            ).first()
        if row is None:
            return None
        if row.request_digest != digest:
            raise IdempotentParameterMismatchException(
                "ClientRequestToken was already used with other parameters"
            )
        return json.loads(row.response)

    def remember(
        self, account_id: str, operation: str, token: str, digest: str, response: dict[str, Any]
    ) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(tables.request_tokens).values(
                        account_id=account_id,
                        operation=operation,
                        token=token,
                        request_digest=digest,
                        response=json.dumps(response),
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            # A concurrent retry with the same token recorded it first: same outcome.
            pass
