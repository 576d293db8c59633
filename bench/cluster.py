"""Cluster mode: the shared audit chain, audited requests over 1-3 nodes, and failover time.

    .venv/bin/python bench/cluster.py [--seconds 20] [--clients 8] [--lease 30]

Needs the machine's PostgreSQL and Redis (127.0.0.1; OVERSIGHT_TEST_PG / OVERSIGHT_TEST_REDIS
name others) and ../shared/data for the failover clip. Each part gets a throw-away database.

1. Audit chain in PostgreSQL: records/s appended by 8 and 32 threads of one process (group
   commit) and by 3 processes of 32 threads each (as 3 nodes; process start-up is timed too),
   beside the file chain on this disk.
2. Audited requests (ListCollections: authenticated, judged, audited) with 1, 2 and 3
   `oversight serve` nodes behind round-robin clients: requests/s, p50 and p99. Clients run on
   the same 2 cores as the nodes, so the totals say how the chain and nodes share one machine.
3. Failover of a stream processor: the time from losing its node to the first match event of
   the resumed session at the webhook, for a node killed (kill -9: its death is seen at once on
   the same host) and a node frozen (SIGSTOP: only its lease, `--lease` seconds, says so).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package's helpers
from oversight.config import settings  # noqa: E402
from oversight.governance.audit import AuditLog  # noqa: E402
from tests.api_server import ApiServer, client, start_server, stop_server  # noqa: E402
from tests.collections_db import PG_SERVER, throwaway_database  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402
from tests.redis_server import REDIS_SERVER  # noqa: E402
from tests.test_cluster import CAMERA, EVENTS, SHARED_SECRETS, sessions  # noqa: E402
from tests.video_helpers import (  # noqa: E402
    BOY_IN_FIRST_FRAME,
    CROWD_CLIP,
    frame_jpeg,
    mjpeg_stream,
    webhook_receiver,
)

RECORD = {"kind": "operation", "operation": "SearchFacesByImage", "outcome": "ok",
          "matches": [{"face_id": "11111111-1111-1111-1111-111111111111", "similarity": 99.2}]}


def _append(count: int, threads: int) -> None:
    log = AuditLog()
    workers = [threading.Thread(target=lambda: [log.append(RECORD) for _ in range(count)])
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _in_processes(processes: int, count: int, threads: int) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append, args=(count, threads)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def audit_chain(records: int) -> None:
    print("\n1. audit chain appends (each durable before it returns)", flush=True)
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as directory:
        os.environ["OVERSIGHT_DATA_DIR"] = directory
        os.environ.pop("OVERSIGHT_DATABASE_URL", None)
        settings.cache_clear()
        started = time.perf_counter()
        _append(records // 8, 8)
        rates["file, 8 threads"] = records / (time.perf_counter() - started)
    runs: list[tuple[str, Callable[[], None], int]] = [
        ("postgresql, 8 threads", lambda: _append(records // 8, 8), records // 8 * 8),
        ("postgresql, 32 threads", lambda: _append(records // 32, 32), records // 32 * 32),
        ("postgresql, 3 processes x 32 threads", lambda: _in_processes(3, records // 96, 32),
         records // 96 * 96),
    ]
    for name, run, expected in runs:
        with throwaway_database("oversight_bench") as url:
            os.environ["OVERSIGHT_DATABASE_URL"] = url
            settings.cache_clear()
            AuditLog().head()  # migrate before timing
            started = time.perf_counter()
            run()
            rates[name] = expected / (time.perf_counter() - started)
            verdict = AuditLog().verify()
            assert verdict.ok and verdict.records == expected, verdict
        os.environ.pop("OVERSIGHT_DATABASE_URL")
        settings.cache_clear()
    for name, rate in rates.items():
        print(f"  {name:38s} {rate:8,.0f} records/s", flush=True)
    base = rates["file, 8 threads"]
    print("  ratios to the file chain: " + ", ".join(
        f"{name} {rate / base:.2f}" for name, rate in rates.items() if name != "file, 8 threads"))


@contextmanager
def cluster(count: int, env: dict[str, str], root: Path) -> Iterator[list[tuple[ApiServer, int]]]:
    """`count` nodes sharing the engines in `env`: [(server, pid)]."""
    started: list[tuple[ApiServer, object]] = []
    try:
        for i in range(count):
            data_dir = root / f"node-{i + 1}"
            if started:
                data_dir.mkdir(parents=True)
                for name in (*SHARED_SECRETS, "credentials"):
                    shutil.copy2(started[0][0].data_dir / name, data_dir / name)
            started.append(start_server(data_dir, env))
        yield [(server, process.pid) for server, process in started]  # type: ignore[attr-defined]
    finally:
        for _, process in started:
            stop_server(process)  # type: ignore[arg-type]


def _load(servers: list[ApiServer], clients: int, seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def run(index: int) -> None:
        server = servers[index % len(servers)]
        rek = client(server, server.access_key_id, server.secret_access_key)
        mine = []
        while time.monotonic() < deadline:
            started = time.perf_counter()
            rek.list_collections()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(latencies) / seconds, latencies


def audited_requests(seconds: float, clients: int) -> None:
    print(f"\n2. audited requests (ListCollections), {clients} client threads, {seconds:g} s",
          flush=True)
    rates = {}
    for count in (1, 2, 3):
        with (throwaway_database("oversight_bench") as url,
              tempfile.TemporaryDirectory(prefix="bench-nodes-") as root):
            env = {"OVERSIGHT_DATABASE_URL": url, "OVERSIGHT_REDIS_URL": REDIS_SERVER}
            with cluster(count, env, Path(root)) as nodes:
                servers = [server for server, _ in nodes]
                _load(servers, clients, 2.0)  # warm up
                rate, latencies = _load(servers, clients, seconds)
                ms = np.array(latencies) * 1000
                rates[count] = rate
                print(f"  {count} node(s): {rate:7,.0f} requests/s  "
                      f"p50 {np.percentile(ms, 50):6.1f} ms  p99 {np.percentile(ms, 99):6.1f} ms",
                      flush=True)
    print("  ratios to 1 node: " + ", ".join(f"{n} nodes {rates[n] / rates[1]:.2f}"
                                            for n in (2, 3)))


def _time_takeover(nodes: list[tuple[ApiServer, int]], hook: object, lose: Callable[[int], None],
                   owner_pid: Callable[[], int], before: int) -> float:
    pid = owner_pid()
    lost_at = time.monotonic()
    lose(pid)
    deadline = lost_at + 300
    while len(sessions(hook)) <= before:  # type: ignore[arg-type]
        if time.monotonic() > deadline:
            raise RuntimeError("no node resumed the processor")
        time.sleep(0.05)
    return time.monotonic() - lost_at


def _kill_and_reap(pid: int) -> None:
    # Reaped at once, as a service manager would: an unreaped (zombie) process still looks
    # alive to its host, and then only its lease tells it is gone.
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def failover(lease: float) -> None:
    print(f"\n3. stream processor failover (lease {lease:g} s)", flush=True)
    from sqlalchemy import create_engine, select

    from oversight.video.tables import stream_processors

    clip = SHARED_DATA / CROWD_CLIP
    parts = [frame_jpeg(clip, i) for i in range(0, 30, 3)]

    def frames() -> Iterator[bytes]:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            yield from parts

    with throwaway_database("oversight_bench") as url, webhook_receiver() as hook, \
            mjpeg_stream(frames, fps=5) as camera, \
            tempfile.TemporaryDirectory(prefix="bench-failover-") as root:
        env = {"OVERSIGHT_DATABASE_URL": url, "OVERSIGHT_REDIS_URL": REDIS_SERVER,
               "OVERSIGHT_VIDEO_JOB_LEASE_SECONDS": str(lease),
               "OVERSIGHT_ENDPOINT_MAP": f"{CAMERA}={camera} {EVENTS}={hook.url}"}
        engine = create_engine(url)

        def owner_pid() -> int:
            with engine.connect() as conn:
                owner = conn.execute(select(stream_processors.c.owner)).scalar_one()
            return int(owner.split(":")[1])

        with cluster(3, env, Path(root)) as nodes:
            first = nodes[0][0]
            rek = client(first, first.access_key_id, first.secret_access_key)
            rek.create_collection(CollectionId="watch")
            rek.index_faces(CollectionId="watch", MaxFaces=1,
                            Image={"Bytes": frame_jpeg(clip, 0, BOY_IN_FIRST_FRAME)})
            rek.create_stream_processor(
                Name="door", RoleArn="arn:aws:iam::000000000000:role/r",
                Input={"KinesisVideoStream": {"Arn": CAMERA}},
                Output={"KinesisDataStream": {"Arn": EVENTS}},
                Settings={"FaceSearch": {"CollectionId": "watch", "FaceMatchThreshold": 90.0}})
            rek.start_stream_processor(Name="door")
            while not sessions(hook):
                time.sleep(0.1)
            killed = _time_takeover(nodes, hook, _kill_and_reap, owner_pid, 1)
            print(f"  node killed (kill -9): first match of the resumed session after "
                  f"{killed:5.1f} s", flush=True)
            frozen_pid = owner_pid()
            frozen = _time_takeover(nodes, hook, lambda pid: os.kill(pid, signal.SIGSTOP),
                                    owner_pid, 2)
            print(f"  node frozen (SIGSTOP): first match of the resumed session after "
                  f"{frozen:5.1f} s (lease {lease:g} s)", flush=True)
            os.kill(frozen_pid, signal.SIGKILL)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--records", type=int, default=9600)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--no-failover", action="store_true", help="skip part 3")
    args = parser.parse_args()
    print(f"PostgreSQL {PG_SERVER}, Redis {REDIS_SERVER}, {os.cpu_count()} cores")
    audit_chain(args.records)
    audited_requests(args.seconds, args.clients)
    if not args.no_failover:
        failover(args.lease)


if __name__ == "__main__":
    main()
