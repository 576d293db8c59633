"""Collections' vectors in one shared Milvus server: the cluster-mode `VectorRegistry`.

Every node reads and writes the same Milvus collection, `oversight_faces_<dim>`, one row a
face: FaceId (primary key, never reused), the owning collection's uid (Milvus partition key:
a tenant's rows hash to one partition and every search is filtered to its uid), the store's
face sequence number and the vector. The store stays the truth:

- New faces are written to Milvus *inside* the store's insert transaction, before it commits:
  a committed face is always searchable, and a crash in between leaves at worst a row whose
  FaceId the store never committed (a ghost, never reported: hits are resolved through the
  store, and `check` removes them).
- Deletions go to Milvus after the store committed them; if that fails, the row is again a
  ghost that searches drop.
- Read-after-write across nodes: each write records its Milvus timestamp in the store
  (`collections.vector_ts`), and a search asks Milvus for a view at least that recent
  ("Customized" consistency with that guarantee timestamp): it waits only when the collection
  changed in the last moments, where "Strong" consistency would wait on every search.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import numpy as np
from pymilvus import (
    Collection as MilvusCollection,
)
from pymilvus import (
    CollectionSchema,
    DataType,
    FieldSchema,
    MilvusException,
    connections,
    utility,
)
from sqlalchemy import Connection

from .records import Collection, StoredFace
from .store import CollectionStore

log = logging.getLogger(__name__)

# Index of each sealed segment and its search parameters: bench/search.py measured recall 0.997
# against exact search at 1 M faces. (IVF_SQ8 was tried at 10 M: the standalone server on 2
# cores had indexed 540 k of the rows when the last insert returned, ~4 min per segment.)
INDEX_PARAMS = {"index_type": "IVF_FLAT", "metric_type": "IP", "params": {"nlist": 1024}}
SEARCH_PARAMS = {"nprobe": 128}
# Largest number of hits Milvus returns for one query (its topk limit).
_MAX_TOPK = 16384
_BATCH = 5000


def _client_uri(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "milvus" or not parts.hostname:
        raise ValueError(f"OVERSIGHT_VECTOR_URL must look like milvus://host:port, not {url!r}")
    return f"http://{parts.hostname}:{parts.port or 19530}"


def _now_ts() -> int:
    # A Milvus hybrid timestamp for "now": a deletion does not report its own timestamp, so a
    # search after it waits until Milvus has applied everything up to this moment.
    return int(utility.mkts_from_unixtime(time.time()))


def _uid_filter(uid: str) -> str:
    return f"collection_uid == {json.dumps(uid)}"


class MilvusFaces:
    """The Milvus side alone: rows of (FaceId, collection uid, seq, vector), one Milvus
    collection per dimension, with the schema, index and search parameters Oversight uses."""

    def __init__(self, url: str) -> None:
        self._alias = f"oversight-{id(self)}"
        connections.connect(alias=self._alias, uri=_client_uri(url))
        self._tables: dict[int, MilvusCollection] = {}
        self._lock = threading.Lock()
        # Per instance so bench/search.py can sweep them; the index is made with the collection.
        self.index_params = INDEX_PARAMS
        self.search_params = dict(SEARCH_PARAMS)

    def table(self, dim: int) -> MilvusCollection:
        with self._lock:
            if dim not in self._tables:
                self._tables[dim] = self._open(f"oversight_faces_{dim}", dim)
            return self._tables[dim]

    def _open(self, name: str, dim: int) -> MilvusCollection:
        if not utility.has_collection(name, using=self._alias):
            schema = CollectionSchema(
                [
                    FieldSchema("face_id", DataType.VARCHAR, max_length=36, is_primary=True),
                    FieldSchema(
                        "collection_uid", DataType.VARCHAR, max_length=36, is_partition_key=True
                    ),
                    FieldSchema("seq", DataType.INT64),
                    FieldSchema("vector", DataType.FLOAT_VECTOR, dim=dim),
                ],
                description="Oversight faces (the SQL store is the truth)",
            )
            try:
                # Strong by default: a deletion by expression first finds its rows with a query
                # at this level (searches ask for their own, cheaper, guarantee).
                table = MilvusCollection(
                    name, schema, using=self._alias, consistency_level="Strong"
                )
                table.create_index("vector", self.index_params)
            except MilvusException:
                # Another node created it first: use theirs.
                if not utility.has_collection(name, using=self._alias):
                    raise
        table = MilvusCollection(name, using=self._alias)
        table.load()
        return table

    def tables(self) -> list[MilvusCollection]:
        """Every dimension's Milvus collection that exists (other nodes may have made some)."""
        names = utility.list_collections(using=self._alias)
        dims = [int(n.rsplit("_", 1)[1]) for n in names if n.startswith("oversight_faces_")]
        return [self.table(dim) for dim in dims]

    def insert(
        self, uid: str, face_ids: Sequence[str], seqs: Sequence[int], vectors: np.ndarray
    ) -> int:
        """Add rows; returns the write's Milvus timestamp."""
        # Columns in the schema's order: 1.5x the rate of row dicts (10,000 faces a call).
        result = self.table(vectors.shape[1]).insert(
            [list(face_ids), [uid] * len(face_ids), [int(seq) for seq in seqs],
             np.asarray(vectors, dtype=np.float32)]
        )
        return int(result.timestamp)

    def delete(self, face_ids: Sequence[str]) -> int:
        """Remove rows by FaceId; returns a Milvus timestamp no earlier than the deletion."""
        for table in self.tables():
            table.delete(f"face_id in {json.dumps(list(face_ids))}")
        return _now_ts()

    def drop(self, uid: str) -> None:
        for table in self.tables():
            table.delete(_uid_filter(uid))

    def search(
        self, uid: str, query: np.ndarray, k: int, guarantee_ts: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, seqs) of the collection's `k` nearest rows, as of a Milvus view at
        least as recent as `guarantee_ts`."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        results = self.table(len(query)).search(
            data=[query.tolist()],
            anns_field="vector",
            param={"metric_type": "IP", "params": self.search_params},
            limit=max(1, min(k, _MAX_TOPK)),
            expr=_uid_filter(uid),
            output_fields=["seq"],
            consistency_level="Customized",
            guarantee_timestamp=max(1, guarantee_ts),
        )
        hits = results[0]
        scores = np.array(hits.distances, dtype=np.float32)
        seqs = np.array([hit.entity.get("seq") for hit in hits], dtype=np.int64)
        return scores, seqs

    def rows(self, uid: str, dim: int) -> dict[int, str]:
        """seq -> FaceId of every row held for the collection `uid`."""
        iterator = self.table(dim).query_iterator(
            batch_size=_BATCH,
            expr=_uid_filter(uid),
            output_fields=["seq"],
            consistency_level="Strong",
        )
        rows: dict[int, str] = {}
        try:
            while batch := iterator.next():
                rows.update((int(row["seq"]), row["face_id"]) for row in batch)
        finally:
            iterator.close()
        return rows

    def close(self) -> None:
        connections.disconnect(self._alias)


class MilvusRegistry:
    """`VectorRegistry` over a shared Milvus server (see the module docstring)."""

    def __init__(self, store: CollectionStore, url: str) -> None:
        if store.engine.dialect.name != "postgresql":
            # Rows are resolved by face sequence number, which PostgreSQL never reuses; SQLite
            # hands an uncommitted (crashed) insert's number to the next face.
            raise ValueError("OVERSIGHT_VECTOR_URL (Milvus) needs a PostgreSQL DATABASE_URL")
        self.store = store
        self.milvus = MilvusFaces(url)

    def search(
        self, collection: Collection, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.milvus.search(collection.uid, query, k, collection.vector_ts)

    def check(self, collection: Collection, dim: int) -> dict[str, int]:
        """Make Milvus hold exactly the store's faces of the collection: remove ghosts, insert
        what is missing. Writers on every node wait meanwhile (the store's write lock)."""
        with self.store.write_locked(collection) as conn:
            seqs, _ = self.store.face_seqs(collection)
            rows = self.milvus.rows(collection.uid, dim)
            have = np.fromiter(rows, dtype=np.int64, count=len(rows))
            stale = np.setdiff1d(have, seqs)
            missing = np.setdiff1d(seqs, have)
            timestamp = _now_ts()
            if len(stale):
                timestamp = self.milvus.delete([rows[int(s)] for s in stale])
            for batch_seqs, vectors in self.store.embeddings(collection, missing):
                faces = self.store.faces_by_seq(collection, batch_seqs.tolist())
                face_ids = [faces[int(s)].face_id for s in batch_seqs]
                timestamp = self.milvus.insert(collection.uid, face_ids, batch_seqs, vectors)
            self.store.note_vector_write(collection, timestamp, conn)
        if len(stale):
            # Milvus only marks deleted rows; compaction drops them from its files.
            self.milvus.table(dim).compact()
        return {"IndexedFaces": len(seqs), "GhostsRemoved": len(stale), "Replayed": len(missing)}

    @contextmanager
    def writing(self, collection: Collection) -> Iterator[_MilvusApplier]:
        # No lock of its own: the store's transaction orders writers on every node.
        applier = _MilvusApplier(self, collection)
        try:
            yield applier
        except BaseException:
            applier.discard()
            raise

    def drop(self, collection: Collection) -> None:
        """Remove a deleted collection's rows (its uid is never reused, so leftovers of a
        failure here are never searched again)."""
        self.milvus.drop(collection.uid)

    def save_all(self) -> None:
        """Nothing to save: Milvus persists its own data."""


class _MilvusApplier:
    def __init__(self, registry: MilvusRegistry, collection: Collection) -> None:
        self._registry = registry
        self._collection = collection
        self._staged: list[str] = []

    def staged(self, conn: Connection, faces: Sequence[StoredFace], vectors: np.ndarray) -> None:
        face_ids = [face.face_id for face in faces]
        timestamp = self._registry.milvus.insert(
            self._collection.uid, face_ids, [face.seq for face in faces], vectors
        )
        self._staged = face_ids
        self._registry.store.note_vector_write(self._collection, timestamp, conn)

    def discard(self) -> None:
        """The store rolled back: remove the rows staged for it (best effort; they are ghosts)."""
        if self._staged:
            self._delete(self._staged)

    def _delete(self, face_ids: list[str]) -> None:
        try:
            timestamp = self._registry.milvus.delete(face_ids)
            self._registry.store.note_vector_write(self._collection, timestamp)
        except Exception:  # the store is right either way: the rows are ghosts, never reported
            log.exception("could not delete %d faces from Milvus", len(face_ids))

    def committed(
        self,
        revision: int,
        added: Sequence[StoredFace] = (),
        vectors: np.ndarray | None = None,
        removed: Sequence[StoredFace] = (),
    ) -> None:
        self._staged = []
        if removed:
            self._delete([face.face_id for face in removed])
