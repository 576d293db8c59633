"""1:N search at scale: build rate, memory, p50/p99 latency and identity recall.

    .venv/bin/python bench/search.py [--sizes 100000 1000000] [--queries 500] [--milvus URL]

Face-like vectors: real embeddings of LFW devtrain people with several photos (the shipped
embedder, cached by oversight.evaluation) fix the statistics; synthetic identities are drawn
from them (centre ~ N(mean, between-identity covariance), each photo = centre + N(0,
within-identity covariance), unit norm). Each size enrols one vector per identity and probes
with another photo of enrolled identities. The gallery is never held whole: it is regenerated
chunk by chunk from per-chunk seeds for each peer (10 M faces are 10 GB of float32), and the
peers run one after another on the same data, each freed before the next:
  numpy   exact search, streamed over the chunks: gives every probe's true top-1; its latency
          is one probe's matrix-vector product summed over the chunks (the baseline)
  flat    FaissIndex forced exact (IndexFlatIP), up to --flat-max faces
  oversight  FaissIndex as the service uses it (exact up to APPROXIMATE_ABOVE, then IVF)
  milvus  cluster mode: Milvus through oversight.collections.milvus.MilvusFaces (its schema,
          index and search parameters), on a Milvus server started from .venv-milvus
          (`make install`) unless --milvus names one; build = insert + flush + index built.
          A small tenant (1,000 faces of another collection uid) is measured too: its searches
          are filtered to it inside the shared Milvus collection.
Build rates leave out the time spent generating the chunks. Memory is resident memory growth
(this process for faiss, the server's processes for Milvus); the peak of this process plus the
server is printed for each size. Recall vs exact = the approximate top-1 is the exact top-1;
identity rank-1 = the top-1 is the probe's own identity.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
from pymilvus import Collection as MilvusCollection
from pymilvus import utility
from pymilvus.grpc_gen.common_pb2 import SegmentState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package: its Milvus
from oversight.collections.milvus import MilvusFaces  # noqa: E402
from oversight.collections.vectors import APPROXIMATE_ABOVE, FaissIndex  # noqa: E402
from tests.milvus_server import MILVUS_SERVER  # noqa: E402
from tests.milvus_server import start as start_milvus  # noqa: E402
from tests.milvus_server import stop as stop_milvus  # noqa: E402

LFW = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "lfw-devtrain" / "images"
# Faces per insert call (the service's add and pymilvus) and per generated chunk.
BATCH = 10_000
CHUNK = 100_000


def real_embeddings(max_images: int) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, identity labels) of LFW people with at least two photos."""
    from oversight.evaluation.embeddings import embed_files

    paths, labels = [], []
    for person in sorted(LFW.iterdir()):
        photos = sorted(person.glob("*.jpg"))
        if len(photos) >= 2:
            paths += photos[:4]
            labels += [person.name] * len(photos[:4])
        if len(paths) >= max_images:
            break
    found = embed_files(paths, choice="central")
    keep = [i for i, p in enumerate(paths) if found[p] is not None]
    vectors = np.stack([found[paths[i]] for i in keep]).astype(np.float32)
    return vectors, np.array([labels[i] for i in keep])


class FaceLikeGenerator:
    """Samples identities and photos with the real embeddings' between/within covariances."""

    def __init__(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        names, inverse = np.unique(labels, return_inverse=True)
        counts = np.bincount(inverse)
        centres = np.stack([vectors[inverse == i].mean(axis=0) for i in range(len(names))])
        multi = counts[inverse] >= 2
        residuals = (vectors - centres[inverse])[multi]
        dim = vectors.shape[1]
        ridge = 1e-6 * np.eye(dim)
        self.mean = centres.mean(axis=0).astype(np.float32)
        self.between = np.linalg.cholesky(np.cov(centres, rowvar=False) + ridge).astype(np.float32)
        # Residuals around a mean of k photos are shrunk by (k-1)/k; undo it on average.
        scale = np.sqrt(np.mean(counts[inverse][multi] / (counts[inverse][multi] - 1)))
        within = np.cov(residuals, rowvar=False) * scale**2 + ridge
        self.within = np.linalg.cholesky(within).astype(np.float32)
        self.dim = dim

    def centres(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, self.dim), dtype=np.float32)
        return self.mean + z @ self.between.T

    def photos(self, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal(centres.shape, dtype=np.float32)
        photos = centres + z @ self.within.T
        return photos / np.linalg.norm(photos, axis=1, keepdims=True)


class Gallery:
    """`size` enrolled faces, one per identity, and probes: another photo of `queries` of them.

    Chunk i is always drawn from the seed (seed, i), so any pass regenerates the same faces
    without keeping them (and a smaller size is the start of a larger one)."""

    def __init__(self, generator: FaceLikeGenerator, size: int, queries: int, seed: int = 0):
        self.generator, self.size, self.seed = generator, size, seed
        rng = np.random.default_rng([seed, 1, size])
        self.truth = np.sort(rng.choice(size, queries, replace=False))
        # The probed identities keep their centres: enrolled photo and probe of one person.
        centres = generator.centres(queries, rng)
        self._enrolled = generator.photos(centres, rng)
        self.probes = generator.photos(centres, rng)
        self.generating = 0.0  # seconds spent generating chunks, left out of build rates

    def chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        for number, start in enumerate(range(0, self.size, CHUNK)):
            started = time.perf_counter()
            rng = np.random.default_rng([self.seed, 0, number])
            stop = min(self.size, start + CHUNK)
            chunk = self.generator.photos(self.generator.centres(stop - start, rng), rng)
            inside = (self.truth >= start) & (self.truth < stop)
            chunk[self.truth[inside] - start] = self._enrolled[inside]
            self.generating += time.perf_counter() - started
            yield start, chunk

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(gallery positions, vectors) in insert-sized batches."""
        for start, chunk in self.chunks():
            for offset in range(0, len(chunk), BATCH):
                part = chunk[offset : offset + BATCH]
                yield np.arange(start + offset, start + offset + len(part)), part


def _rss_mb(pid: int | str = "self") -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return 0.0


# Process group of the Milvus server this benchmark started (its memory is measured; another
# server on the machine, e.g. a test suite's, is not). None: a server named by --milvus.
MILVUS_GROUP: int | None = None


def _milvus_rss_mb() -> float:
    """Resident memory of the Milvus server's processes (0 if not started here)."""
    if MILVUS_GROUP is None:
        return 0.0
    total = 0.0
    for proc in Path("/proc").iterdir():
        try:
            # /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces.
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2]) == MILVUS_GROUP:
                total += _rss_mb(proc.name)
        except (OSError, ValueError, IndexError):
            continue
    return total


class PeakMemory:
    """Samples this process's and the Milvus server's resident memory once a second."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            self.peak = max(self.peak, _rss_mb() + _milvus_rss_mb())

    def close(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def _percentiles(latencies: list[float] | np.ndarray) -> tuple[float, float]:
    ms = np.asarray(latencies) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _report(name: str, row: dict[str, float], note: str = "") -> None:
    print(
        f"  {name:10s} build {row['build/s']:>10,.0f}/s  memory {row['MB']:>8,.0f} MB  "
        f"p50 {row['p50 ms']:8.2f} ms  p99 {row['p99 ms']:8.2f} ms  rank-1 {row['rank1']:.4f}  "
        f"recall vs exact {row['recall vs exact']:.4f}{note}",
        flush=True,
    )


def measure_exact(gallery: Gallery, timed: int) -> tuple[dict[str, float], np.ndarray]:
    """Every probe's exact top-1 (one pass over the chunks, probes batched), and the latency of
    `timed` probes searched one at a time as a plain matrix-vector product over the gallery."""
    probes = gallery.probes
    best_score = np.full(len(probes), -np.inf, dtype=np.float32)
    best = np.zeros(len(probes), dtype=np.int64)
    latencies = np.zeros(min(timed, len(probes)))
    for start, chunk in gallery.chunks():
        scores = chunk @ probes.T
        top = np.argmax(scores, axis=0)
        top_score = scores[top, np.arange(len(probes))]
        better = top_score > best_score
        best_score[better], best[better] = top_score[better], start + top[better]
        for i in range(len(latencies)):
            t = time.perf_counter()
            np.argmax(chunk @ probes[i])
            latencies[i] += time.perf_counter() - t
    p50, p99 = _percentiles(latencies)
    row = {"build/s": float("nan"), "MB": gallery.size * gallery.generator.dim * 4 / 2**20,
           "p50 ms": p50, "p99 ms": p99, "rank1": float(np.mean(best == gallery.truth)),
           "recall vs exact": 1.0}
    _report("numpy", row, f"  ({len(latencies)} probes timed; float32 gallery size as memory)")
    return row, best


def _progress(name: str, done: int, gallery: Gallery, started: float) -> None:
    """A line every million faces added: a long run shows its rate and memory as it goes."""
    if done % 1_000_000 == 0 and done < gallery.size:
        elapsed = time.perf_counter() - started - gallery.generating
        print(f"    {name}: {done:,} faces added, {done / elapsed:,.0f}/s, resident memory "
              f"{_rss_mb():,.0f} MB + server {_milvus_rss_mb():,.0f} MB", flush=True)


def _search_all(search: object, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(top-1 gallery positions, latencies) of one-at-a-time searches."""
    latencies, top1 = [], []
    for probe in probes:
        t = time.perf_counter()
        hits = search(probe)  # type: ignore[operator]
        latencies.append(time.perf_counter() - t)
        top1.append(int(hits[0]) if len(hits) else -1)
    return np.array(top1), np.array(latencies)


def measure_faiss(
    name: str, index: FaissIndex, gallery: Gallery, exact: np.ndarray
) -> dict[str, float]:
    before = _rss_mb()
    gallery.generating = 0.0
    started = time.perf_counter()
    for ids, vectors in gallery.batches():
        index.add(ids, vectors)
        _progress(name, ids[-1] + 1, gallery, started)
    build = gallery.size / (time.perf_counter() - started - gallery.generating)
    growth = _rss_mb() - before
    top1, latencies = _search_all(lambda probe: index.search(probe, 1)[1], gallery.probes)
    p50, p99 = _percentiles(latencies)
    row = {"build/s": build, "MB": growth, "p50 ms": p50, "p99 ms": p99,
           "rank1": float(np.mean(top1 == gallery.truth)),
           "recall vs exact": float(np.mean(top1 == exact))}
    _report(name, row, f"  ({index.describe()}; vectors and ids {_stored_mb(index):,.0f} MB)")
    return row


def _stored_mb(index: FaissIndex) -> float:
    """Size of what the index stores per face (codes and ids), without serializing it."""
    if not index.approximate:
        return len(index) * (index.dim * 4 + 8) / 2**20
    ivf = faiss.extract_index_ivf(index._index)
    return len(index) * (ivf.code_size + 8) / 2**20


def sweep_probes(index: FaissIndex, probes: np.ndarray, exact: np.ndarray) -> None:
    """Latency and recall of the IVF index at other probe counts (the service's is marked)."""
    ivf = faiss.extract_index_ivf(index._index)
    chosen = ivf.nprobe
    for nprobe in sorted({n for n in (16, 32, 64, 128, 256, 512, chosen) if n <= ivf.nlist}):
        ivf.nprobe = nprobe
        top1, latencies = _search_all(lambda probe: index.search(probe, 1)[1], probes)
        p50, p99 = _percentiles(latencies)
        mark = " <- service" if nprobe == chosen else ""
        print(f"    nlist {ivf.nlist} nprobe {nprobe:4d}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
              f"recall vs exact {np.mean(top1 == exact):.4f}{mark}", flush=True)
    ivf.nprobe = chosen


def measure_milvus(milvus: MilvusFaces, gallery: Gallery, exact: np.ndarray) -> dict[str, float]:
    uid = str(uuid.uuid4())
    before = _milvus_rss_mb()
    gallery.generating = 0.0
    started = time.perf_counter()
    for seqs, vectors in gallery.batches():
        milvus.insert(uid, [str(uuid.uuid4()) for _ in seqs], seqs, vectors)
        _progress("milvus", seqs[-1] + 1, gallery, started)
    table = milvus.table(gallery.generator.dim)
    table.flush()
    _wait_indexed_segments_loaded(table, gallery.size)
    build = gallery.size / (time.perf_counter() - started - gallery.generating)
    probes = gallery.probes
    # A write just before: the first search waits until Milvus shows it (read-after-write);
    # timed on its own, then the steady state is measured.
    # (the opposite of a probe: a row no probe finds first)
    ts = milvus.insert(uid, ["probe-warmup"], [gallery.size + 1], -probes[:1])
    t = time.perf_counter()
    milvus.search(uid, probes[0], 1, ts)
    first = (time.perf_counter() - t) * 1000
    top1, latencies = _search_all(lambda probe: milvus.search(uid, probe, 1, ts)[1], probes)
    p50, p99 = _percentiles(latencies)
    row = {"build/s": build, "MB": _milvus_rss_mb() - before, "p50 ms": p50, "p99 ms": p99,
           "rank1": float(np.mean(top1 == gallery.truth)),
           "recall vs exact": float(np.mean(top1 == exact)), "server MB": _milvus_rss_mb()}
    _report("milvus", row, f"  (server RSS {row['server MB']:,.0f} MB; {milvus.index_params}; "
            f"first search after a write {first:.0f} ms)")
    sweep_milvus(milvus, uid, ts, probes, exact)
    # A small tenant beside the big one: its searches are filtered to its uid.
    small = next(gallery.chunks())[1][:1000]
    small_uid = str(uuid.uuid4())
    ts = milvus.insert(small_uid, [str(uuid.uuid4()) for _ in small], range(1000), small)
    queries = probes[:100]
    found, _ = _search_all(lambda q: milvus.search(small_uid, q, 1, ts)[1], queries)
    exact_small = np.argmax(queries @ small.T, axis=1)
    print(f"  {'milvus':10s} small tenant (1,000 faces) recall vs exact "
          f"{np.mean(found == exact_small):.4f}", flush=True)
    milvus.drop(uid)
    milvus.drop(small_uid)
    return row


def _wait_indexed_segments_loaded(table: MilvusCollection, rows: int) -> None:
    """Wait until every row is indexed and served from a sealed segment. Milvus 2.3 calls an
    index "Finished" while segments still wait for theirs (at 10 M faces, 540 k of the rows were
    indexed), and the query node searches the last rows in a growing segment with an interim
    index of its own: either way the figures would not be the configured index's."""
    started = time.monotonic()
    while True:
        progress = utility.index_building_progress(table.name, using=table._using)
        segments = utility.get_query_segment_info(table.name, using=table._using)
        growing = any(s.state == SegmentState.Growing for s in segments)
        # (segments too small to index are never pending)
        if progress["total_rows"] >= rows and progress["pending_index_rows"] == 0 and not growing:
            return
        if int(time.monotonic() - started) % 60 == 0:
            print(f"    milvus: {progress['indexed_rows']:,} of {rows:,} rows indexed after "
                  f"{time.monotonic() - started:.0f} s", flush=True)
        time.sleep(1)


def sweep_milvus(
    milvus: MilvusFaces, uid: str, ts: int, probes: np.ndarray, exact: np.ndarray
) -> None:
    """Latency and recall at other search parameters (the service's is marked)."""
    chosen = dict(milvus.search_params)
    key = "ef" if "ef" in chosen else "nprobe"
    for value in sorted({16, 32, 64, 128, 256, chosen[key]}):
        milvus.search_params = {**chosen, key: value}
        top1, latencies = _search_all(lambda probe: milvus.search(uid, probe, 1, ts)[1], probes)
        p50, p99 = _percentiles(latencies)
        mark = " <- service" if value == chosen[key] else ""
        print(f"    {key} {value:4d}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
              f"recall vs exact {np.mean(top1 == exact):.4f}{mark}", flush=True)
    milvus.search_params = chosen


def run(gallery: Gallery, timed: int, flat_max: int, with_faiss: bool,
        milvus: MilvusFaces | None) -> None:
    size, dim = gallery.size, gallery.generator.dim
    print(f"\n{size:,} enrolled faces, {len(gallery.probes)} probes of enrolled identities",
          flush=True)
    peak = PeakMemory()
    rows = {}
    rows["numpy"], exact = measure_exact(gallery, timed)
    if with_faiss and size <= flat_max:
        rows["flat"] = measure_faiss("flat", FaissIndex(dim, approximate_above=2**62), gallery,
                                     exact)
        gc.collect()
    if with_faiss:
        index = FaissIndex(dim)
        rows["oversight"] = measure_faiss("oversight", index, gallery, exact)
        if index.approximate:
            sweep_probes(index, gallery.probes, exact)
        del index  # freed before Milvus holds the same faces
        gc.collect()
    if milvus is not None:
        rows["milvus"] = measure_milvus(milvus, gallery, exact)
    numpy_row = rows["numpy"]
    print("  p99 / numpy p99: " + ", ".join(
        f"{name} {row['p99 ms'] / numpy_row['p99 ms']:.3f}"
        for name, row in rows.items() if name != "numpy"), flush=True)
    if "oversight" in rows and "milvus" in rows:
        ours, theirs = rows["oversight"], rows["milvus"]
        print(f"  milvus / oversight (faiss): p50 x{theirs['p50 ms'] / ours['p50 ms']:.2f}, "
              f"p99 x{theirs['p99 ms'] / ours['p99 ms']:.2f}, "
              f"build x{theirs['build/s'] / ours['build/s']:.3f}", flush=True)
    print("  faces per GB of resident memory: " + ", ".join(
        f"{name} {size / (rows[name]['MB'] / 1024):,.0f}"
        for name in ("oversight", "milvus") if name in rows and rows[name]["MB"] > 0), flush=True)
    print(f"  peak resident memory, this process + Milvus server: {peak.close():,.0f} MB",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--timed-exact", type=int, default=50,
                        help="probes whose one-at-a-time exact search is timed")
    parser.add_argument("--flat-max", type=int, default=1_000_000,
                        help="largest size at which the exact faiss index is measured")
    parser.add_argument("--peers", nargs="+", choices=["faiss", "milvus"],
                        default=["faiss", "milvus"])
    parser.add_argument("--real-images", type=int, default=1200)
    parser.add_argument("--milvus", default="auto",
                        help="milvus://host:port or 'auto' (start one from .venv-milvus)")
    args = parser.parse_args()
    # A SIGTERM (timeout, kill) unwinds through the finally below: the server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = None
    milvus_dir = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    if "milvus" in args.peers and args.milvus == "auto":
        if not MILVUS_SERVER.exists():
            parser.error(f"{MILVUS_SERVER} is missing (make install; or --milvus URL, "
                         "OVERSIGHT_TEST_MILVUS_SERVER, --peers faiss)")
        started = time.perf_counter()
        args.milvus, server = start_milvus(milvus_dir)
        global MILVUS_GROUP
        MILVUS_GROUP = server.pid  # the wrapper leads the server's own process group
        print(f"Milvus {args.milvus} started in {time.perf_counter() - started:.1f} s, "
              f"RSS {_milvus_rss_mb():.0f} MB idle", flush=True)
    milvus = MilvusFaces(args.milvus) if "milvus" in args.peers else None
    vectors, labels = real_embeddings(args.real_images)
    generator = FaceLikeGenerator(vectors, labels)
    same = labels[:, None] == labels[None, :]
    cosines = vectors @ vectors.T
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    rng = np.random.default_rng(0)
    sample = generator.photos(np.repeat(generator.centres(500, rng), 2, axis=0), rng)
    synthetic = np.sum(sample[0::2] * sample[1::2], axis=1)
    impostor = np.sum(sample[0::2] * np.roll(sample[1::2], 1, axis=0), axis=1)
    print(
        f"real: {len(vectors)} photos of {len(set(labels))} people, dim {vectors.shape[1]}; "
        f"genuine cosine {cosines[same & off_diagonal].mean():.3f} vs synthetic "
        f"{synthetic.mean():.3f}; impostor {cosines[~same].mean():.3f} vs synthetic "
        f"{impostor.mean():.3f}. Exact search up to {APPROXIMATE_ABOVE:,} faces, IVF above."
    )
    try:
        for size in args.sizes:
            run(Gallery(generator, size, args.queries), args.timed_exact, args.flat_max,
                "faiss" in args.peers, milvus)
            gc.collect()
    finally:
        if server is not None:
            stop_milvus(server)
        shutil.rmtree(milvus_dir, ignore_errors=True)  # GBs of segments at 1 M faces


if __name__ == "__main__":
    main()
