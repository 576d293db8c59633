"""Audit log appends per second: one writer vs 8 threads (group commit) vs 8 processes (flock).

    .venv/bin/python bench/audit_log.py [--records 200] [--dir DIR]

Every append is fsynced before it returns, so the disk's flush time bounds one writer; threads
of one process (the API server) share flushes; separate processes take turns on the file lock.
Prints records/s, the ratio to one writer, and checks the chain after each run. Use --dir on the
disk that will hold the data directory: flush times differ a lot between disks.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from oversight.governance.audit import AuditLog

RECORD = {
    "kind": "operation", "operation": "SearchFacesByImage", "outcome": "ok",
    "matches": [{"face_id": "11111111-1111-1111-1111-111111111111", "similarity": 99.2}],
}


def _write(directory: str, count: int) -> None:
    log = AuditLog(Path(directory))
    for _ in range(count):
        log.append(RECORD)


def _threads(directory: str, writers: int, count: int) -> None:
    workers = [threading.Thread(target=_write, args=(directory, count)) for _ in range(writers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _processes(directory: str, writers: int, count: int) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write, args=(directory, count)) for _ in range(writers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _measure(parent: Path | None, run: Callable[[str], None], total: int) -> float:
    directory = tempfile.mkdtemp(prefix="audit-bench-", dir=parent)
    try:
        started = time.perf_counter()
        run(directory)
        elapsed = time.perf_counter() - started
        verdict = AuditLog(Path(directory)).verify()
        assert verdict.ok and verdict.records == total, verdict
    finally:
        shutil.rmtree(directory)
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200, help="records per writer")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()
    n = args.records
    single = _measure(args.dir, lambda d: _write(d, n), n)
    threads = _measure(args.dir, lambda d: _threads(d, 8, n), 8 * n)
    processes = _measure(args.dir, lambda d: _processes(d, 8, n), 8 * n)
    print(f"1 writer:     {single:8.0f} records/s")
    print(f"8 threads:    {threads:8.0f} records/s  ({threads / single:.1f}x one writer)")
    print(f"8 processes:  {processes:8.0f} records/s  ({processes / single:.1f}x one writer)")
    print("chain valid after every run; no record lost")


if __name__ == "__main__":
    main()
