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

# Inverted lists per sealed segment (Milvus seals ~512 MB segments, ~500 k faces at 256-d) and
# lists probed per query: bench/search.py measures recall >= 0.99 against exact search.
NLIST = 1024
NPROBE = 128
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


def _uid_filter(collection: Collection) -> str:
    return f"collection_uid == {json.dumps(collection.uid)}"


class MilvusRegistry:
    """`VectorRegistry` over a shared Milvus server (see the module docstring)."""

    def __init__(self, store: CollectionStore, url: str) -> None:
        if store.engine.dialect.name != "postgresql":
            # Rows are resolved by face sequence number, which PostgreSQL never reuses; SQLite
            # hands an uncommitted (crashed) insert's number to the next face.
            raise ValueError("OVERSIGHT_VECTOR_URL (Milvus) needs a PostgreSQL DATABASE_URL")
        self.store = store
        self._alias = f"oversight-{id(self)}"
        connections.connect(alias=self._alias, uri=_client_uri(url))
        self._tables: dict[int, MilvusCollection] = {}
        self._lock = threading.Lock()

    # -- the Milvus collection of each dimension -------------------------------------------------
    def _table(self, dim: int) -> MilvusCollection:
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
                table.create_index(
                    "vector",
                    {"index_type": "IVF_FLAT", "metric_type": "IP", "params": {"nlist": NLIST}},
                )
            except MilvusException:
                # Another node created it first: use theirs.
                if not utility.has_collection(name, using=self._alias):
                    raise
        table = MilvusCollection(name, using=self._alias)
        table.load()
        return table

    def _existing_tables(self) -> list[MilvusCollection]:
        names = utility.list_collections(using=self._alias)
        dims = [int(n.rsplit("_", 1)[1]) for n in names if n.startswith("oversight_faces_")]
        return [self._table(dim) for dim in dims]

    # -- reading -----------------------------------------------------------------------------
    def search(
        self, collection: Collection, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        results = self._table(len(query)).search(
            data=[query.tolist()],
            anns_field="vector",
            param={"metric_type": "IP", "params": {"nprobe": NPROBE}},
            limit=max(1, min(k, _MAX_TOPK)),
            expr=_uid_filter(collection),
            output_fields=["seq"],
            consistency_level="Customized",
            guarantee_timestamp=max(1, collection.vector_ts),
        )
        hits = results[0]
        scores = np.array(hits.distances, dtype=np.float32)
        seqs = np.array([hit.entity.get("seq") for hit in hits], dtype=np.int64)
        return scores, seqs

    def _rows(self, collection: Collection, dim: int) -> dict[int, str]:
        """seq -> FaceId of every row Milvus holds for the collection."""
        iterator = self._table(dim).query_iterator(
            batch_size=_BATCH,
            expr=_uid_filter(collection),
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

    def check(self, collection: Collection, dim: int) -> dict[str, int]:
        """Make Milvus hold exactly the store's faces of the collection: remove ghosts, insert
        what is missing. Writers on every node wait meanwhile (the store's write lock)."""
        table = self._table(dim)
        with self.store.write_locked(collection) as conn:
            seqs, _ = self.store.face_seqs(collection)
            rows = self._rows(collection, dim)
            have = np.fromiter(rows, dtype=np.int64, count=len(rows))
            stale = np.setdiff1d(have, seqs)
            missing = np.setdiff1d(seqs, have)
            if len(stale):
                table.delete(f"face_id in {json.dumps([rows[int(s)] for s in stale])}")
            for batch_seqs, vectors in self.store.embeddings(collection, missing):
                faces = self.store.faces_by_seq(collection, batch_seqs.tolist())
                self._insert(table, collection, [faces[int(s)] for s in batch_seqs], vectors)
            self.store.note_vector_write(collection, _now_ts(), conn)
        return {"IndexedFaces": len(seqs), "GhostsRemoved": len(stale), "Replayed": len(missing)}

    # -- writing -----------------------------------------------------------------------------
    @staticmethod
    def _insert(
        table: MilvusCollection,
        collection: Collection,
        faces: Sequence[StoredFace],
        vectors: np.ndarray,
    ) -> int:
        result = table.insert(
            [
                {
                    "face_id": face.face_id,
                    "collection_uid": collection.uid,
                    "seq": face.seq,
                    "vector": vector.tolist(),
                }
                for face, vector in zip(faces, vectors, strict=True)
            ]
        )
        return int(result.timestamp)

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
        for table in self._existing_tables():
            table.delete(_uid_filter(collection))

    def save_all(self) -> None:
        """Nothing to save: Milvus persists its own data."""

    def close(self) -> None:
        connections.disconnect(self._alias)


class _MilvusApplier:
    def __init__(self, registry: MilvusRegistry, collection: Collection) -> None:
        self._registry = registry
        self._collection = collection
        self._staged: list[str] = []

    def staged(self, conn: Connection, faces: Sequence[StoredFace], vectors: np.ndarray) -> None:
        table = self._registry._table(vectors.shape[1])
        timestamp = self._registry._insert(table, self._collection, faces, vectors)
        self._staged = [face.face_id for face in faces]
        self._registry.store.note_vector_write(self._collection, timestamp, conn)

    def discard(self) -> None:
        """The store rolled back: remove the rows staged for it (best effort; they are ghosts)."""
        if self._staged:
            self._delete(self._staged)

    def _delete(self, face_ids: list[str]) -> None:
        try:
            for table in self._registry._existing_tables():
                table.delete(f"face_id in {json.dumps(face_ids)}")
            self._registry.store.note_vector_write(self._collection, _now_ts())
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
