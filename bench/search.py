"""1:N search at scale: insert rate, memory, p50/p99 latency and identity recall.

    .venv/bin/python bench/search.py [--sizes 100000 1000000] [--queries 500] [--milvus URL]

Face-like vectors: real embeddings of LFW devtrain people with several photos (the shipped
embedder, cached by oversight.evaluation) fix the statistics; synthetic identities are drawn
from them (centre ~ N(mean, between-identity covariance), each photo = centre + N(0,
within-identity covariance), unit norm). Each size enrols one vector per identity and probes
with another photo of enrolled identities. Peers measured in the same run on the same data:
  numpy   exact matrix-vector product (the baseline)
  flat    FaissIndex forced exact (IndexFlatIP)
  oversight  FaissIndex as the service uses it (exact up to APPROXIMATE_ABOVE, then IVF)
  milvus  cluster mode: Milvus through oversight.collections.milvus.MilvusFaces (its schema,
          IVF_FLAT index and search parameters), on a Milvus server started from .venv-milvus
          (`make install`) unless --milvus names one; build = insert + flush + index built.
          A small tenant (1,000 faces of another collection uid) is measured too: its searches
          are filtered to it inside the shared Milvus collection.
Recall vs exact = the approximate top-1 is the exact top-1; identity rank-1 = the top-1 is the
probe's own identity.
"""

from __future__ import annotations

import argparse
import gc
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import faiss
import numpy as np
from pymilvus import utility

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package: its Milvus
from oversight.collections.milvus import MilvusFaces  # noqa: E402
from oversight.collections.vectors import APPROXIMATE_ABOVE, FaissIndex  # noqa: E402
from tests.milvus_server import MILVUS_SERVER  # noqa: E402
from tests.milvus_server import start as start_milvus  # noqa: E402
from tests.milvus_server import stop as stop_milvus  # noqa: E402

LFW = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "lfw-devtrain" / "images"
BATCH = 10_000


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

    def __init__(self, vectors: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        names, inverse = np.unique(labels, return_inverse=True)
        counts = np.bincount(inverse)
        centres = np.stack([vectors[inverse == i].mean(axis=0) for i in range(len(names))])
        multi = counts[inverse] >= 2
        residuals = (vectors - centres[inverse])[multi]
        dim = vectors.shape[1]
        ridge = 1e-6 * np.eye(dim)
        self.mean = centres.mean(axis=0)
        self.between = np.linalg.cholesky(np.cov(centres, rowvar=False) + ridge).astype(np.float32)
        # Residuals around a mean of k photos are shrunk by (k-1)/k; undo it on average.
        scale = np.sqrt(np.mean(counts[inverse][multi] / (counts[inverse][multi] - 1)))
        within = np.cov(residuals, rowvar=False) * scale**2 + ridge
        self.within = np.linalg.cholesky(within).astype(np.float32)
        self.rng = np.random.default_rng(seed)
        self.dim = dim

    def centres(self, n: int) -> np.ndarray:
        z = self.rng.standard_normal((n, self.dim), dtype=np.float32)
        return self.mean.astype(np.float32) + z @ self.between.T

    def photos(self, centres: np.ndarray) -> np.ndarray:
        z = self.rng.standard_normal(centres.shape, dtype=np.float32)
        photos = centres + z @ self.within.T
        return photos / np.linalg.norm(photos, axis=1, keepdims=True)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    ms = np.array(latencies) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def measure(
    name: str,
    index: FaissIndex | None,
    gallery: np.ndarray,
    probes: np.ndarray,
    truth: np.ndarray,
    exact_top1: np.ndarray | None,
) -> tuple[dict[str, float], np.ndarray]:
    ids = np.arange(len(gallery), dtype=np.int64)
    started = time.perf_counter()
    if index is not None:
        for start in range(0, len(gallery), BATCH):
            index.add(ids[start : start + BATCH], gallery[start : start + BATCH])
    insert_rate = len(gallery) / max(time.perf_counter() - started, 1e-9)
    latencies, top1 = [], []
    for probe in probes:
        t = time.perf_counter()
        if index is None:
            best = int(np.argmax(gallery @ probe))
        else:
            _, hits = index.search(probe, 1)
            best = int(hits[0])
        latencies.append(time.perf_counter() - t)
        top1.append(best)
    p50, p99 = _percentiles(latencies)
    top1_array = np.array(top1)
    memory = len(index.to_bytes()) / 2**20 if index is not None else gallery.nbytes / 2**20
    row = {
        "insert/s": insert_rate if index is not None else float("nan"),
        "MB": memory,
        "p50 ms": p50,
        "p99 ms": p99,
        "rank1": float(np.mean(top1_array == truth)),
        "recall vs exact": float(np.mean(top1_array == exact_top1))
        if exact_top1 is not None
        else 1.0,
    }
    print(
        f"  {name:10s} insert {row['insert/s']:>10,.0f}/s  index {row['MB']:>8.0f} MB  "
        f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  rank-1 {row['rank1']:.4f}  "
        f"recall vs exact {row['recall vs exact']:.4f}  (peak RSS {_rss_mb():,.0f} MB)",
        flush=True,
    )
    return row, top1_array


def _milvus_rss_mb() -> float:
    """Resident memory of the Milvus server process(es) on this machine (0 if none is seen)."""
    total = 0
    for proc in Path("/proc").iterdir():
        try:
            if b"milvus\x00run\x00standalone" in (proc / "cmdline").read_bytes():
                status = (proc / "status").read_text()
                total += int(status.split("VmRSS:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def measure_milvus(
    milvus: MilvusFaces, gallery: np.ndarray, probes: np.ndarray, truth: np.ndarray,
    exact_top1: np.ndarray,
) -> dict[str, float]:
    uid = str(uuid.uuid4())
    face_ids = [str(uuid.uuid4()) for _ in range(len(gallery))]
    before = _milvus_rss_mb()
    started = time.perf_counter()
    for start in range(0, len(gallery), BATCH):
        stop = start + BATCH
        milvus.insert(uid, face_ids[start:stop], range(start, min(stop, len(gallery))),
                      gallery[start:stop])
    table = milvus.table(gallery.shape[1])
    table.flush()
    utility.wait_for_index_building_complete(table.name, using=table._using)
    build_rate = len(gallery) / (time.perf_counter() - started)
    # A write just before: the first search waits until Milvus shows it (read-after-write);
    # timed on its own, then the steady state is measured.
    ts = milvus.insert(uid, ["probe-warmup"], [len(gallery) + 1], gallery[:1])
    t = time.perf_counter()
    milvus.search(uid, probes[0], 1, ts)
    first = (time.perf_counter() - t) * 1000
    latencies, top1 = [], []
    for probe in probes:
        t = time.perf_counter()
        _, hits = milvus.search(uid, probe, 1, ts)
        latencies.append(time.perf_counter() - t)
        top1.append(int(hits[0]) if len(hits) else -1)
    p50, p99 = _percentiles(latencies)
    top1_array = np.array(top1)
    row = {"build/s": build_rate, "p50 ms": p50, "p99 ms": p99,
           "rank1": float(np.mean(top1_array == truth)),
           "recall vs exact": float(np.mean(top1_array == exact_top1)),
           "RSS MB": _milvus_rss_mb(), "RSS growth MB": _milvus_rss_mb() - before,
           "first search after a write ms": first}
    print(
        f"  {'milvus':10s} build  {build_rate:>10,.0f}/s  server RSS {row['RSS MB']:>6.0f} MB "
        f"(+{row['RSS growth MB']:.0f})  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
        f"rank-1 {row['rank1']:.4f}  recall vs exact {row['recall vs exact']:.4f}  "
        f"(first search after a write {first:.0f} ms)",
        flush=True,
    )
    # A small tenant beside the big one: its searches are filtered to its uid.
    small = gallery[:1000]
    small_uid = str(uuid.uuid4())
    ts = milvus.insert(small_uid, [str(uuid.uuid4()) for _ in small], range(1000), small)
    queries = probes[:100] if len(probes) >= 100 else probes
    exact_small = np.argmax(queries @ small.T, axis=1)
    found = [int(milvus.search(small_uid, q, 1, ts)[1][0]) for q in queries]
    print(f"  {'milvus':10s} small tenant (1,000 faces) recall vs exact "
          f"{np.mean(np.array(found) == exact_small):.4f}", flush=True)
    milvus.drop(uid)
    milvus.drop(small_uid)
    return row


def sweep_probes(index: FaissIndex, probes: np.ndarray, exact: np.ndarray) -> None:
    """Latency and recall of the IVF index at other probe counts (the service's is marked)."""
    ivf = faiss.extract_index_ivf(index._index)
    chosen = ivf.nprobe
    for nprobe in sorted({8, 16, 32, 64, 128, 256, chosen}):
        ivf.nprobe = min(nprobe, ivf.nlist)
        latencies, top1 = [], []
        for probe in probes:
            t = time.perf_counter()
            top1.append(int(index.search(probe, 1)[1][0]))
            latencies.append(time.perf_counter() - t)
        p50, p99 = _percentiles(latencies)
        mark = " <- service" if nprobe == chosen else ""
        print(
            f"    nlist {ivf.nlist} nprobe {nprobe:4d}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
            f"recall vs exact {np.mean(np.array(top1) == exact):.4f}{mark}",
            flush=True,
        )
    ivf.nprobe = chosen


def run(
    size: int, queries: int, generator: FaceLikeGenerator, milvus: MilvusFaces | None
) -> None:
    print(f"\n{size:,} enrolled faces, {queries} probes of enrolled identities", flush=True)
    gallery = np.empty((size, generator.dim), dtype=np.float32)
    for start in range(0, size, 100_000):
        stop = min(size, start + 100_000)
        gallery[start:stop] = generator.photos(generator.centres(stop - start))
    # The probed identities keep their centres, so a probe is another photo of the same person.
    truth = generator.rng.choice(size, queries, replace=False)
    centres = generator.centres(queries)
    gallery[truth] = generator.photos(centres)
    probes = generator.photos(centres)

    numpy_row, exact = measure("numpy", None, gallery, probes, truth, None)
    flat_index = FaissIndex(generator.dim, approximate_above=2**62)
    flat, _ = measure("flat", flat_index, gallery, probes, truth, exact)
    del flat_index
    gc.collect()
    index = FaissIndex(generator.dim)
    ours, _ = measure("oversight", index, gallery, probes, truth, exact)
    if index.approximate:
        sweep_probes(index, probes, exact)
    print(
        f"  ratios: oversight p99 / numpy p99 = {ours['p99 ms'] / numpy_row['p99 ms']:.3f}, "
        f"oversight p99 / flat p99 = {ours['p99 ms'] / flat['p99 ms']:.3f}",
        flush=True,
    )
    del index
    gc.collect()
    if milvus is not None:
        remote = measure_milvus(milvus, gallery, probes, truth, exact)
        print(f"  ratios: milvus p99 / oversight (faiss) p99 = "
              f"{remote['p99 ms'] / ours['p99 ms']:.3f}; faces per GB: faiss "
              f"{size / (ours['MB'] / 1024):,.0f}, milvus (server RSS growth) "
              f"{size / max(remote['RSS growth MB'] / 1024, 1e-9):,.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--real-images", type=int, default=1200)
    parser.add_argument("--milvus", default="auto",
                        help="milvus://host:port, 'auto' (start one from .venv-milvus) or 'none'")
    args = parser.parse_args()
    server = None
    milvus_dir = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    if args.milvus == "auto" and MILVUS_SERVER.exists():
        started = time.perf_counter()
        args.milvus, server = start_milvus(milvus_dir)
        print(f"Milvus {args.milvus} started in {time.perf_counter() - started:.1f} s, "
              f"RSS {_milvus_rss_mb():.0f} MB idle", flush=True)
    milvus = MilvusFaces(args.milvus) if args.milvus.startswith("milvus://") else None
    vectors, labels = real_embeddings(args.real_images)
    generator = FaceLikeGenerator(vectors, labels)
    same = labels[:, None] == labels[None, :]
    cosines = vectors @ vectors.T
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    sample = generator.photos(np.repeat(generator.centres(500), 2, axis=0))
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
            run(size, args.queries, generator, milvus)
            gc.collect()
    finally:
        if server is not None:
            stop_milvus(server)
        shutil.rmtree(milvus_dir, ignore_errors=True)  # GBs of segments at 1 M faces


if __name__ == "__main__":
    main()
