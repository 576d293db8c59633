"""Requests/s per core of each analysis operation: the sizing figures of docs/DEPLOYMENT.md.

    .venv/bin/python bench/throughput.py [--requests 40] [--concurrency 4] [--gallery 50]

Each operation on one real image of ../shared/data, two ways side by side in one run:
  in-process  `oversight.call` from --concurrency threads: validation, governance and the audit
              record as over HTTP, without HTTP, SigV4 or JSON (the ceiling);
  HTTP        boto3 through one `oversight serve` node (embedded engines, fresh data directory)
              from --concurrency clients.
Prints requests/s, p50 and p99, requests/s per core of this machine, and HTTP / in-process.
SearchFacesByImage searches a collection of --gallery LFW faces (both sides index the same).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore import xform_name

import oversight

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the server launcher is shared with the tests

from bench.api import run_concurrently  # noqa: E402
from tests.api_server import client, running_server  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FACE = DATA / "labels/opencv-samples/grace_hopper_matplotlib.jpg"
SCENE = DATA / "labels/coco8/images/train/000000000009.jpg"
RECEIPT = DATA / "ocr/sroie-dev/img/000.jpg"
LFW = DATA / "faces/lfw-devtrain/images"
COLLECTION = "throughput"

Caller = Callable[[str, dict[str, Any]], Any]


def measured_requests() -> dict[str, dict[str, Any]]:
    face, scene, receipt = (path.read_bytes() for path in (FACE, SCENE, RECEIPT))
    return {
        "DetectFaces": {"Image": {"Bytes": face}},
        "CompareFaces": {"SourceImage": {"Bytes": face}, "TargetImage": {"Bytes": face}},
        "IndexFaces": {"CollectionId": COLLECTION, "Image": {"Bytes": face}, "MaxFaces": 1},
        "SearchFacesByImage": {"CollectionId": COLLECTION, "Image": {"Bytes": face}},
        "DetectLabels": {"Image": {"Bytes": scene}},
        "DetectModerationLabels": {"Image": {"Bytes": scene}},
        "DetectText": {"Image": {"Bytes": receipt}},
    }


def prepare(call: Caller, gallery: int) -> None:
    """The collection SearchFacesByImage searches, and every model loaded."""
    call("CreateCollection", {"CollectionId": COLLECTION})
    for photo in sorted(LFW.glob("*/*_0001.jpg"))[:gallery]:
        call("IndexFaces", {"CollectionId": COLLECTION, "Image": {"Bytes": photo.read_bytes()},
                            "MaxFaces": 1})
    for name, request in measured_requests().items():
        call(name, request)


def measure(call: Caller, concurrency: int, total: int) -> dict[str, dict[str, float]]:
    return {name: run_concurrently(lambda n=name, r=request: call(n, r), concurrency, total)
            for name, request in measured_requests().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--gallery", type=int, default=50)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OVERSIGHT_DATA_DIR"] = str(Path(tmp) / "in-process")
        prepare(oversight.call, args.gallery)
        local = measure(oversight.call, args.concurrency, args.requests)
        (Path(tmp) / "node").mkdir()
        with running_server(Path(tmp) / "node") as server:
            rekognition = client(server, server.access_key_id, server.secret_access_key,
                                 max_pool_connections=args.concurrency, read_timeout=300)

            def over_http(name: str, request: dict[str, Any]) -> Any:
                return getattr(rekognition, xform_name(name))(**request)

            prepare(over_http, args.gallery)
            remote = measure(over_http, args.concurrency, args.requests)
    print(f"{args.requests} requests per row from {args.concurrency} threads on {cores} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'operation':<24}{'path':<12}{'req/s':>8}{'per core':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'HTTP/in-process req/s':>23}")
    for name in measured_requests():
        for path, row in (("in-process", local[name]), ("HTTP", remote[name])):
            ratio = f"{row['rps'] / local[name]['rps']:.2f}" if path == "HTTP" else ""
            print(f"{name:<24}{path:<12}{row['rps']:>8.1f}{row['rps'] / cores:>10.1f}"
                  f"{row['p50']:>9.0f}{row['p99']:>9.0f}{ratio:>23}")


if __name__ == "__main__":
    main()
