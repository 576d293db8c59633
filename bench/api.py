"""DetectFaces over HTTP (boto3 -> oversight serve) vs in-process `operations.call`, same run.

    .venv/bin/python bench/api.py [--requests 40]

Starts a real server (fresh data directory, free port) and measures, on a real photo:
- in-process: `operations.call("DetectFaces", ...)` one at a time (the peer: no HTTP, no auth);
- HTTP at concurrency 1, 4 and 16: requests/s, p50 and p99 latency through boto3 (SigV4,
  JSON, base64, validation, governance audit);
- the protocol's own cost: a signed request that fails validation (no inference) at concurrency 1.
Prints the ratios HTTP/in-process. The server runs `max_concurrent_inference` operations at once
(default 2, on this 2-core machine); the rest queue.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the server launcher is shared with the tests

from botocore.exceptions import ClientError  # noqa: E402

from oversight import operations  # noqa: E402
from tests.api_server import client, running_server  # noqa: E402

PHOTO = ROOT.parent / "shared/data/labels/opencv-samples/grace_hopper_matplotlib.jpg"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run_concurrently(call: Callable[[], object], concurrency: int, total: int) -> dict[str, float]:
    with ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        latencies = list(pool.map(lambda _: timed(call), range(total)))
        wall = time.perf_counter() - start
    return {
        "rps": total / wall,
        "p50": percentile(latencies, 0.5) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
    }


def validation_failure(rekognition: object) -> Callable[[], object]:
    def call() -> None:
        try:
            rekognition.detect_faces(Image={"Bytes": b"x"}, Attributes=["NONE"])  # type: ignore[attr-defined]
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ValidationException"

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per measurement")
    args = parser.parse_args()
    photo = PHOTO.read_bytes()
    request = {"Image": {"Bytes": photo}}

    operations.call("DetectFaces", request)  # load the models once
    in_process = [
        timed(lambda: operations.call("DetectFaces", request)) for _ in range(args.requests)
    ]
    base_p50 = percentile(in_process, 0.5) * 1000
    print(f"photo: {PHOTO.name} ({len(photo)} bytes), {args.requests} requests per row")
    print(f"{'path':<28}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'p50 vs in-process':>19}")
    print(
        f"{'in-process call':<28}{1000 / statistics.mean([t * 1000 for t in in_process]):>8.1f}"
        f"{base_p50:>9.1f}{percentile(in_process, 0.99) * 1000:>9.1f}{'1.00x':>19}"
    )

    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp)) as server:
        rekognition = client(
            server, server.access_key_id, server.secret_access_key,
            max_pool_connections=16, read_timeout=300,
        )
        faces = rekognition.detect_faces(**request)["FaceDetails"]
        assert faces, "the benchmark photo must contain a face"
        for concurrency in (1, 4, 16):
            row = run_concurrently(
                lambda: rekognition.detect_faces(**request), concurrency, args.requests
            )
            print(
                f"{f'HTTP DetectFaces c={concurrency}':<28}{row['rps']:>8.1f}{row['p50']:>9.1f}"
                f"{row['p99']:>9.1f}{row['p50'] / base_p50:>18.2f}x"
            )
        row = run_concurrently(validation_failure(rekognition), 1, args.requests)
        print(
            f"{'HTTP+auth only (c=1)':<28}{row['rps']:>8.1f}{row['p50']:>9.1f}{row['p99']:>9.1f}"
            f"{'':>19}"
        )
        print(f"HTTP+auth+validation overhead per request (p50): {row['p50']:.1f} ms")


if __name__ == "__main__":
    main()
