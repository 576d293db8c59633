"""SQL for the collections domain, written once for SQLite and PostgreSQL (SQLAlchemy Core).

The store is the source of truth: a face exists once its insert has committed, and is gone once
its delete has committed. Every write transaction starts by bumping the collection's revision,
which both serialises writers on that collection and tells vector indexes they are behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, Engine, Row, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import ResourceAlreadyExistsException, ResourceNotFoundException
from . import tables
from .records import Box, Collection, NewFace, StoredFace

_FACE_COLUMNS = (
    tables.faces.c.seq,
    tables.faces.c.face_id,
    tables.faces.c.image_id,
    tables.faces.c.external_image_id,
    tables.faces.c.user_id,
    tables.faces.c.box_left,
    tables.faces.c.box_top,
    tables.faces.c.box_width,
    tables.faces.c.box_height,
    tables.faces.c.confidence,
    tables.faces.c.indexed_at,
)


def _utc(value: datetime) -> datetime:
    # SQLite keeps no time zone; every timestamp this store writes is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _collection(row: Row) -> Collection:
    return Collection(
        pk=row.pk,
        uid=row.uid,
        account_id=row.account_id,
        collection_id=row.collection_id,
        face_model=row.face_model,
        created_at=_utc(row.created_at),
        revision=row.revision,
        vector_ts=row.vector_ts,
        matcher=row.matcher,
    )


def _face(row: Row) -> StoredFace:
    return StoredFace(
        seq=row.seq,
        face_id=row.face_id,
        image_id=row.image_id,
        external_image_id=row.external_image_id,
        user_id=row.user_id,
        box=Box(row.box_left, row.box_top, row.box_width, row.box_height),
        confidence=row.confidence,
        indexed_at=_utc(row.indexed_at),
    )


def _missing_collection(collection_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The collection id: {collection_id} does not exist")


class CollectionStore:
    """Collections, faces, users and tags of every account, in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- collections ---------------------------------------------------------------------------
    def create_collection(
        self, account_id: str, collection_id: str, face_model: str, tag_map: dict[str, str],
        matcher: str = "fused",
    ) -> Collection:
        values = {
            "uid": str(uuid.uuid4()),
            "account_id": account_id,
            "collection_id": collection_id,
            "face_model": face_model,
            "created_at": datetime.now(UTC),
            "revision": 0,
            "vector_ts": 0,
            "matcher": matcher,
        }
        try:
            with self.engine.begin() as conn:
                pk = conn.execute(insert(tables.collections).values(values)).inserted_primary_key[0]
                self._put_tags(conn, pk, tag_map)
        except IntegrityError as exc:
            raise ResourceAlreadyExistsException(
                f"The collection id: {collection_id} already exists"
            ) from exc
        return Collection(pk=pk, **values)

    def set_matcher(self, collection: Collection, matcher: str) -> Collection:
        """Switch the collection's matcher; its faces stay as they are."""
        with self.engine.begin() as conn:
            conn.execute(update(tables.collections)
                         .where(tables.collections.c.pk == collection.pk)
                         .values(matcher=matcher))
        return replace(collection, matcher=matcher)

    def get_collection(self, account_id: str, collection_id: str) -> Collection:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tables.collections).where(
                    tables.collections.c.account_id == account_id,
                    tables.collections.c.collection_id == collection_id,
                )
            ).first()
        if row is None:
            raise _missing_collection(collection_id)
        return _collection(row)

    def list_collections(self, account_id: str, after_pk: int, limit: int) -> list[Collection]:
        """The account's collections in creation order, after the one with `after_pk`."""
        query = (
            select(tables.collections)
            .where(
                tables.collections.c.account_id == account_id,
                tables.collections.c.pk > after_pk,
            )
            .order_by(tables.collections.c.pk)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_collection(row) for row in conn.execute(query)]

    def all_collections(self) -> list[Collection]:
        """Every collection of every account (start-up replay, operator checks)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(tables.collections).order_by(tables.collections.c.pk))
            return [_collection(row) for row in rows]

    def delete_collection(
        self,
        account_id: str,
        collection_id: str,
        before_commit: Callable[[Collection, int], None] | None = None,
    ) -> Collection:
        """Delete a collection with its faces, users and tags. `before_commit(collection, faces
        it held)` runs inside the transaction; when it raises, nothing is deleted."""
        where = (
            tables.collections.c.account_id == account_id,
            tables.collections.c.collection_id == collection_id,
        )
        with self.engine.begin() as conn:
            # The revision bump comes first: it takes the write lock before the count is read.
            row = conn.execute(
                update(tables.collections)
                .where(*where)
                .values(revision=tables.collections.c.revision + 1)
                .returning(*tables.collections.c)
            ).first()
            if row is None:
                raise _missing_collection(collection_id)
            face_count = conn.execute(
                select(func.count()).where(tables.faces.c.collection_pk == row.pk)
            ).scalar_one()
            conn.execute(delete(tables.collections).where(tables.collections.c.pk == row.pk))
            if before_commit is not None:
                before_commit(_collection(row), face_count)
        return _collection(row)

    def counts(self, collection: Collection) -> tuple[int, int]:
        """(faces, users) in the collection."""
        with self.engine.connect() as conn:
            face_count = conn.execute(
                select(func.count()).where(tables.faces.c.collection_pk == collection.pk)
            ).scalar_one()
            user_count = conn.execute(
                select(func.count()).where(tables.users.c.collection_pk == collection.pk)
            ).scalar_one()
        return face_count, user_count

    def revision(self, collection: Collection) -> int | None:
        """The collection's current revision, or None once it has been deleted."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(tables.collections.c.revision).where(
                    tables.collections.c.pk == collection.pk
                )
            ).scalar_one_or_none()

    @staticmethod
    def _bump(conn: Connection, collection: Collection) -> int:
        # First statement of every write: takes the write lock at once (no read-then-upgrade
        # deadlock in SQLite) and orders concurrent writers of one collection.
        revision = conn.execute(
            update(tables.collections)
            .where(tables.collections.c.pk == collection.pk)
            .values(revision=tables.collections.c.revision + 1)
            .returning(tables.collections.c.revision)
        ).scalar_one_or_none()
        if revision is None:
            raise _missing_collection(collection.collection_id)
        return revision

    @contextmanager
    def write_locked(self, collection: Collection) -> Iterator[Connection]:
        """Hold the collection's write lock (as a face write does) for the block, in the yielded
        transaction. Writers on every node wait meanwhile (a vector index repair needs a still
        store)."""
        with self.engine.begin() as conn:
            self._bump(conn, collection)
            yield conn

    def note_vector_write(
        self, collection: Collection, timestamp: int, conn: Connection | None = None
    ) -> None:
        """Record a vector write's timestamp so searches on every node wait until they see it."""
        column = tables.collections.c.vector_ts
        statement = (
            update(tables.collections)
            .where(tables.collections.c.pk == collection.pk)
            .values(vector_ts=case((column < timestamp, timestamp), else_=column))
        )
        if conn is not None:
            conn.execute(statement)
            return
        with self.engine.begin() as own:
            own.execute(statement)

    # -- faces ---------------------------------------------------------------------------------
    def insert_faces(
        self,
        collection: Collection,
        new_faces: Sequence[NewFace],
        before_commit: Callable[[Connection, list[StoredFace]], None] | None = None,
    ) -> tuple[list[StoredFace], int]:
        """Store faces in one transaction; returns them with their sequence numbers.

        `before_commit` sees the stored faces inside the transaction: a shared vector index is
        written there, so a committed face is always searchable (a failure rolls it back)."""
        now = datetime.now(UTC)
        rows = [
            {
                "collection_pk": collection.pk,
                "face_id": str(uuid.uuid4()),
                "image_id": face.image_id,
                "external_image_id": face.external_image_id,
                "user_id": None,
                "box_left": face.box.left,
                "box_top": face.box.top,
                "box_width": face.box.width,
                "box_height": face.box.height,
                "confidence": face.confidence,
                "embedding": np.asarray(face.embedding, dtype=np.float32).tobytes(),
                "indexed_at": now,
            }
            for face in new_faces
        ]
        with self.engine.begin() as conn:
            revision = self._bump(conn, collection)
            stored = [
                _face(
                    conn.execute(insert(tables.faces).values(row).returning(*_FACE_COLUMNS)).one()
                )
                for row in rows
            ]
            if before_commit is not None:
                before_commit(conn, stored)
        return stored, revision

    def delete_faces(
        self,
        collection: Collection,
        face_ids: Iterable[str],
        force: bool,
        before_commit: Callable[[list[StoredFace]], None] | None = None,
    ) -> tuple[list[StoredFace], list[StoredFace], int]:
        """Delete faces by FaceId; faces of a user stay unless `force`. `before_commit(deleted)`
        runs inside the transaction when any face goes; when it raises, none does.

        Returns (deleted, kept because of their user, revision after the change).
        """
        wanted = list(dict.fromkeys(face_ids))
        with self.engine.begin() as conn:
            revision = self._bump(conn, collection)
            found = [
                _face(row)
                for row in conn.execute(
                    select(*_FACE_COLUMNS).where(
                        tables.faces.c.collection_pk == collection.pk,
                        tables.faces.c.face_id.in_(wanted),
                    )
                )
            ]
            deleted = [face for face in found if force or face.user_id is None]
            kept = [face for face in found if not (force or face.user_id is None)]
            if deleted:
                conn.execute(
                    delete(tables.faces).where(
                        tables.faces.c.seq.in_([face.seq for face in deleted])
                    )
                )
                if before_commit is not None:
                    before_commit(deleted)
        return deleted, kept, revision

    def faces_by_seq(self, collection: Collection, seqs: Sequence[int]) -> dict[int, StoredFace]:
        if not seqs:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_FACE_COLUMNS).where(
                    tables.faces.c.collection_pk == collection.pk,
                    tables.faces.c.seq.in_([int(s) for s in seqs]),
                )
            )
            return {row.seq: _face(row) for row in rows}

    def face_with_embedding(
        self, collection: Collection, face_id: str
    ) -> tuple[StoredFace, np.ndarray] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_FACE_COLUMNS, tables.faces.c.embedding).where(
                    tables.faces.c.collection_pk == collection.pk,
                    tables.faces.c.face_id == face_id,
                )
            ).first()
        if row is None:
            return None
        return _face(row), np.frombuffer(row.embedding, dtype=np.float32)

    def list_faces(
        self,
        collection: Collection,
        after_seq: int,
        limit: int,
        user_id: str | None = None,
        face_ids: Sequence[str] | None = None,
    ) -> list[StoredFace]:
        query = select(*_FACE_COLUMNS).where(
            tables.faces.c.collection_pk == collection.pk, tables.faces.c.seq > after_seq
        )
        if user_id is not None:
            query = query.where(tables.faces.c.user_id == user_id)
        if face_ids is not None:
            query = query.where(tables.faces.c.face_id.in_(list(face_ids)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(tables.faces.c.seq).limit(limit))
            return [_face(row) for row in rows]

    def face_seqs(self, collection: Collection) -> tuple[np.ndarray, int | None]:
        """Every face's sequence number and the revision they reflect (None: deleted)."""
        with self.engine.connect() as conn:
            revision = conn.execute(
                select(tables.collections.c.revision).where(
                    tables.collections.c.pk == collection.pk
                )
            ).scalar_one_or_none()
            seqs = conn.execute(
                select(tables.faces.c.seq).where(tables.faces.c.collection_pk == collection.pk)
            ).scalars()
            return np.fromiter(seqs, dtype=np.int64), revision

    def embeddings(
        self, collection: Collection, seqs: np.ndarray, batch: int = 10_000
    ) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """(seqs, vectors) of the given faces, in batches (faces deleted meanwhile are absent)."""
        for start in range(0, len(seqs), batch):
            wanted = [int(s) for s in seqs[start : start + batch]]
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(tables.faces.c.seq, tables.faces.c.embedding).where(
                        tables.faces.c.collection_pk == collection.pk,
                        tables.faces.c.seq.in_(wanted),
                    )
                ).all()
            if rows:
                yield (
                    np.array([row.seq for row in rows], dtype=np.int64),
                    np.vstack([np.frombuffer(row.embedding, dtype=np.float32) for row in rows]),
                )

    # -- tags ----------------------------------------------------------------------------------
    @staticmethod
    def _put_tags(conn: Connection, collection_pk: int, tag_map: dict[str, str]) -> None:
        if not tag_map:
            return
        conn.execute(
            delete(tables.tags).where(
                tables.tags.c.collection_pk == collection_pk, tables.tags.c.key.in_(list(tag_map))
            )
        )
        conn.execute(
            insert(tables.tags),
            [{"collection_pk": collection_pk, "key": k, "value": v} for k, v in tag_map.items()],
        )

    def tags(self, collection: Collection) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(tables.tags.c.key, tables.tags.c.value).where(
                    tables.tags.c.collection_pk == collection.pk
                )
            )
            return {row.key: row.value for row in rows}

    def tag(self, collection: Collection, tag_map: dict[str, str]) -> None:
        with self.engine.begin() as conn:
            self._put_tags(conn, collection.pk, tag_map)

    def untag(self, collection: Collection, keys: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(tables.tags).where(
                    tables.tags.c.collection_pk == collection.pk,
                    tables.tags.c.key.in_(list(keys)),
                )
            )
