"""Vector indexes for 1:N search: the registry interface and its embedded implementation.

`VectorRegistry` is what the collection service uses; `IndexRegistry` (here, faiss in each
process) and `milvus.MilvusRegistry` (one shared Milvus server, cluster mode) implement it.

The embedded registry keeps one faiss index per collection, consistent with the store.

The store is the truth; an index is a cache of it that may be stale (a crash before it was saved,
another process writing the same database) but never ahead of a commit: faces are added only
after their insert committed, and searches resolve hits through the store, so a face deleted a
moment ago is never reported. Each index remembers the collection revision it reflects; when the
store's revision differs, the index is reconciled by diffing face ids (remove what the store no
longer has, add what it has that the index lacks). Indexes are saved to
`<data dir>/collections/<collection uid>.index` (atomic rename) now and then and at exit, so a
restart replays only what changed since.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy import Connection

from .records import Collection, StoredFace
from .store import CollectionStore
from .vectors import FaissIndex, VectorIndex

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<q")  # the revision the saved index reflects
# Save an index once this many changes (or a tenth of its size) have accumulated since the
# last save; saving is only a start-up shortcut, so it need not follow every write.
_SAVE_EVERY = 1000


class Applier(Protocol):
    """Applies one change to a collection's vectors, around the store's transaction."""

    def staged(self, conn: Connection, faces: Sequence[StoredFace], vectors: np.ndarray) -> None:
        """New faces inserted, transaction not yet committed."""
        ...

    def committed(
        self,
        revision: int,
        added: Sequence[StoredFace] = (),
        vectors: np.ndarray | None = None,
        removed: Sequence[StoredFace] = (),
    ) -> None:
        """The store committed `revision`, which added and/or removed these faces."""
        ...


class VectorRegistry(Protocol):
    """Every collection's vectors: searched by cosine, changed only alongside the store."""

    def search(
        self, collection: Collection, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, face seqs) of the `k` nearest faces; `collection` freshly read.
        May name faces deleted meanwhile (callers resolve seqs through the store)."""
        ...

    def writing(self, collection: Collection) -> AbstractContextManager[Applier]: ...

    def check(self, collection: Collection, dim: int) -> dict[str, int]: ...

    def drop(self, collection: Collection) -> None: ...

    def save_all(self) -> None: ...


@dataclass
class _Entry:
    index: VectorIndex | None = None
    revision: int = -1
    unsaved: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)


class IndexRegistry:
    def __init__(
        self,
        store: CollectionStore,
        directory: Path,
        factory: Callable[[int], VectorIndex] = FaissIndex,
        loader: Callable[[bytes], VectorIndex] = FaissIndex.from_bytes,
    ) -> None:
        self.store = store
        self.directory = directory
        self.factory = factory
        self.loader = loader
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _entry(self, collection: Collection) -> _Entry:
        with self._lock:
            return self._entries.setdefault(collection.uid, _Entry())

    def _path(self, uid: str) -> Path:
        return self.directory / f"{uid}.index"

    # -- reading -------------------------------------------------------------------------------
    def search(
        self, collection: Collection, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, face seqs) of the `k` nearest faces; `collection` freshly read."""
        entry = self._entry(collection)
        with entry.lock:
            # An index ahead of the caller's snapshot (a write committed since) is fine.
            if entry.index is None or entry.revision < collection.revision:
                self._reconcile(collection, entry, query.shape[-1])
            index = entry.index
        assert index is not None
        return index.search(query, k)

    def _load(self, collection: Collection, dim: int) -> tuple[VectorIndex, int]:
        path = self._path(collection.uid)
        try:
            data = path.read_bytes()
            (revision,) = _HEADER.unpack_from(data)
            index = self.loader(data[_HEADER.size :])
            if index.dim == dim:
                return index, revision
            log.warning("ignoring %s: dimension %d, expected %d", path, index.dim, dim)
        except FileNotFoundError:
            pass
        except Exception:  # a torn or foreign file only costs a rebuild from the store
            log.exception("ignoring unreadable vector index %s", path)
        return self.factory(dim), -1

    def _reconcile(self, collection: Collection, entry: _Entry, dim: int) -> tuple[int, int]:
        """Bring the index to the store's state; returns (ghosts removed, faces added)."""
        if entry.index is None:
            entry.index, entry.revision = self._load(collection, dim)
        if self.store.revision(collection) in (None, entry.revision):
            return 0, 0
        seqs, revision = self.store.face_seqs(collection)
        if revision is None:
            return 0, 0
        index = entry.index
        have = index.ids()
        stale = np.setdiff1d(have, seqs, assume_unique=True)
        missing = np.setdiff1d(seqs, have, assume_unique=True)
        index.remove(stale)
        for batch_seqs, vectors in self.store.embeddings(collection, missing):
            index.add(batch_seqs, vectors)
        entry.revision = revision
        entry.unsaved += len(stale) + len(missing)
        self._maybe_save(collection.uid, entry)
        return len(stale), len(missing)

    def check(self, collection: Collection, dim: int) -> dict[str, int]:
        """Load and reconcile the collection's index now (start-up replay, operator check)."""
        entry = self._entry(collection)
        with entry.lock:
            removed, added = self._reconcile(collection, entry, dim)
            assert entry.index is not None
            return {"IndexedFaces": len(entry.index), "GhostsRemoved": removed, "Replayed": added}

    # -- writing -------------------------------------------------------------------------------
    @contextmanager
    def writing(self, collection: Collection) -> Iterator[_Applier]:
        """Hold the collection's index while the caller commits a change and applies it.

        Holding the lock across commit and apply keeps this process's index revision in step
        with the store; an index not loaded yet is left alone (it reconciles when first used).
        """
        entry = self._entry(collection)
        with entry.lock:
            yield _Applier(self, collection, entry)

    def _maybe_save(self, uid: str, entry: _Entry) -> None:
        assert entry.index is not None
        if entry.unsaved >= max(_SAVE_EVERY, len(entry.index) // 10):
            self._save(uid, entry)

    def _save(self, uid: str, entry: _Entry) -> None:
        assert entry.index is not None
        path = self._path(uid)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as handle:
            handle.write(_HEADER.pack(entry.revision))
            handle.write(entry.index.to_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        entry.unsaved = 0

    def save_all(self) -> None:
        """Save every index with unsaved changes (called at exit and by bulk loaders)."""
        with self._lock:
            entries = list(self._entries.items())
        for uid, entry in entries:
            with entry.lock:
                if entry.index is not None and entry.unsaved and entry.revision >= 0:
                    self._save(uid, entry)

    def drop(self, collection: Collection) -> None:
        """Forget a deleted collection's index, in memory and on disk."""
        with self._lock:
            self._entries.pop(collection.uid, None)
        self._path(collection.uid).unlink(missing_ok=True)


class _Applier:
    """Applies one committed change to a loaded index (see `IndexRegistry.writing`)."""

    def __init__(self, registry: IndexRegistry, collection: Collection, entry: _Entry) -> None:
        self._registry = registry
        self._collection = collection
        self._entry = entry

    def staged(self, conn: Connection, faces: Sequence[StoredFace], vectors: np.ndarray) -> None:
        """Nothing to do yet: this process's index changes once the store has committed."""

    def committed(
        self,
        revision: int,
        added: Sequence[StoredFace] = (),
        vectors: np.ndarray | None = None,
        removed: Sequence[StoredFace] = (),
    ) -> None:
        entry = self._entry
        if entry.index is None:
            return
        if added:
            assert vectors is not None
            entry.index.add(np.array([face.seq for face in added], np.int64), vectors)
            entry.unsaved += len(added)
        if removed:
            entry.index.remove(np.array([face.seq for face in removed], np.int64))
            entry.unsaved += len(removed)
        # Another process may have committed in between: then the next search reconciles.
        entry.revision = revision if revision == entry.revision + 1 else -1
        if entry.revision >= 0:
            self._registry._maybe_save(self._collection.uid, entry)
