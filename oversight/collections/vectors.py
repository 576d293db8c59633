"""Vector index for 1:N face search: exact while small, approximate (IVF) above a measured size.

`VectorIndex` is the interface the service uses; anything that can add, remove, search by inner
product and report its ids can stand behind it (a distributed engine included). `FaissIndex` is
the embedded implementation: `IndexFlatIP` (exact) up to `APPROXIMATE_ABOVE` vectors, then an
inverted-file index holding each vector as 8-bit codes (a quarter of float32's memory), probed
widely enough to keep identity recall at or above 0.99 (bench/search.py measures both on
face-like data). Keys are the store's integer face sequence numbers; the store keeps the exact
embeddings.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Protocol

import faiss
import numpy as np

# Measured by bench/search.py on 128-d face-like vectors (2 cores): flat search stays under
# ~10 ms up to this size; past it the IVF index is far faster at identity recall >= 0.99.
APPROXIMATE_ABOVE = 200_000
# Retrain the inverted lists once the collection has grown this much past the trained size.
_RETRAIN_GROWTH = 4
# Fraction of the inverted lists probed per query. bench/search.py on face-like 256-d vectors,
# 300 probes, recall vs exact search: 1 M faces, 1,024 lists: 1/16 -> 0.973, 1/8 -> 1.000;
# 10 M faces, 2,048 lists (8-bit codes): 1/16 -> 0.960, 1/8 -> 0.987, 1/4 -> 1.000.
_PROBE_FRACTION = 1 / 4
_MIN_PROBES = 32
_TRAIN_PER_LIST = 64

# Requests search concurrently, one query each: OpenMP fan-out per query only adds contention
# (bench/search.py measured single-threaded queries ~3x faster at p50 on a busy 2-core host).
faiss.omp_set_num_threads(1)


class VectorIndex(Protocol):
    """What the collection service needs from a vector index (embedded or remote)."""

    dim: int

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best `k` (inner products, ids) for one unit-norm query, best first; ids -1 pad."""
        ...

    def ids(self) -> np.ndarray: ...

    def to_bytes(self) -> bytes: ...


def _nlist_for(size: int) -> int:
    # ~sqrt(N) lists (a power of two): ~1,000 faces a list at 1 M keeps both training and the
    # per-query scan cheap on a CPU (bench/search.py).
    return 1 << max(6, round(math.log2(math.sqrt(max(size, 1)))))


class FaissIndex:
    """Embedded faiss index that switches between exact and IVF search by size."""

    def __init__(self, dim: int, approximate_above: int = APPROXIMATE_ABOVE) -> None:
        self.dim = dim
        self.approximate_above = approximate_above
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._trained_size = 0
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def approximate(self) -> bool:
        return self._trained_size > 0

    def describe(self) -> str:
        """The index structure and its search parameters, for logs and benchmarks."""
        with self._lock:
            if not self.approximate:
                return "exact"
            ivf = self._index
            codes = "8-bit" if isinstance(ivf, faiss.IndexIVFScalarQuantizer) else "float32"
            return f"IVF {ivf.nlist} lists, {ivf.nprobe} probed, {codes} codes"

    def ids(self) -> np.ndarray:
        with self._lock:
            if self.approximate:
                return self._inverted_lists()[0]
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
            self._rebalance()

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
            self._rebalance()

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        with self._lock:
            if len(self) == 0:
                return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
            scores, ids = self._index.search(query, max(1, min(k, len(self))))
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def to_bytes(self) -> bytes:
        with self._lock:
            return faiss.serialize_index(self._index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, approximate_above: int = APPROXIMATE_ABOVE) -> FaissIndex:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        instance = cls(index.d, approximate_above)
        instance._index = index
        if isinstance(index, faiss.IndexIVF):
            instance._trained_size = len(instance)
            instance._tune_probes()
        return instance

    def _inverted_lists(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) held in the IVF lists: 8-bit codes decoded, or (an IVFFlat index saved
        by an earlier version) the raw float32 vectors."""
        ivf = self._index
        invlists = ivf.invlists
        id_parts, vector_parts = [], []
        for i in range(invlists.nlist):
            n = invlists.list_size(i)
            if n:
                id_parts.append(faiss.rev_swig_ptr(invlists.get_ids(i), n).copy())
                codes = faiss.rev_swig_ptr(invlists.get_codes(i), n * invlists.code_size).copy()
                if isinstance(ivf, faiss.IndexIVFScalarQuantizer):
                    vector_parts.append(ivf.sq.decode(codes.reshape(n, invlists.code_size)))
                else:
                    vector_parts.append(codes.view(np.float32).reshape(n, self.dim))
        if not id_parts:
            return np.empty(0, dtype=np.int64), np.empty((0, self.dim), dtype=np.float32)
        return np.concatenate(id_parts), np.vstack(vector_parts)

    def _rebalance(self) -> None:
        size = len(self)
        if not self.approximate and size > self.approximate_above:
            self._rebuild(approximate=True)
        elif self.approximate and size > self._trained_size * _RETRAIN_GROWTH:
            self._rebuild(approximate=True)
        elif self.approximate and size < self.approximate_above // 2:
            self._rebuild(approximate=False)

    def _rebuild(self, approximate: bool) -> None:
        if self.approximate:
            ids, vectors = self._inverted_lists()
        else:
            ids, vectors = self.ids(), self._index.index.reconstruct_n(0, len(self))
        if approximate:
            nlist = _nlist_for(len(ids))
            quantizer = faiss.IndexFlatIP(self.dim)
            # 8-bit codes of the vectors themselves (not of residuals from their list's centre):
            # a code decodes alone, for a rebuild; at 1 M faces recall is that of float32 and
            # a search scans ~1.5x faster (bench/search.py).
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                faiss.METRIC_INNER_PRODUCT, False,
            )
            # k-means on a sample of _TRAIN_PER_LIST points a list is as good as on all of
            # them and keeps a rebuild at 1 M+ faces to seconds.
            sample = np.random.default_rng(0).choice(
                len(ids), min(len(ids), nlist * _TRAIN_PER_LIST), replace=False
            )
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            try:
                index.train(vectors[np.sort(sample)])
                index.add_with_ids(vectors, ids)
            finally:
                faiss.omp_set_num_threads(1)
            self._index = index
            self._trained_size = len(ids)
            self._tune_probes()
        else:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            self._index.add_with_ids(vectors, ids)
            self._trained_size = 0

    def _tune_probes(self) -> None:
        ivf = faiss.extract_index_ivf(self._index)
        ivf.nprobe = min(ivf.nlist, max(_MIN_PROBES, int(ivf.nlist * _PROBE_FRACTION)))
