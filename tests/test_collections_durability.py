"""kill -9 of the server during concurrent IndexFaces and DeleteFaces loses nothing acknowledged
and leaves nothing half-written: after a restart every acknowledged face is found, every
acknowledged deletion stays deleted, and every face the store holds is whole and searchable."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.api_server import client, start_server, stop_server
from tests.conftest import shared_path

# Real servers, processes or whole data sets: minutes, not seconds (`make test-fast` skips them).
pytestmark = pytest.mark.slow

LFW = "faces/krasserm_face-recognition/images"
PEOPLE = ("Ariel_Sharon", "Colin_Powell", "George_W_Bush", "Tony_Blair")
ACKED_BEFORE_KILL = 8
INDEXERS = 3


def test_kill_9_during_concurrent_index_and_delete(tmp_path: Path) -> None:
    photos = [
        shared_path(f"{LFW}/{p}/{p}_{n:04d}.jpg").read_bytes() for p in PEOPLE for n in (1, 2)
    ]
    data_dir = tmp_path / "oversight-data"
    server, process = start_server(data_dir)
    rek = client(
        server, server.access_key_id, server.secret_access_key, connect_timeout=5, read_timeout=60
    )
    rek.create_collection(CollectionId="crash")

    lock = threading.Lock()
    indexed: list[str] = []  # acknowledged IndexFaces
    deleting: set[str] = set()  # DeleteFaces sent (acknowledged or not)
    deleted: set[str] = set()  # acknowledged DeleteFaces
    killed = threading.Event()

    def index_loop(worker: int) -> None:
        for i in range(worker, 10_000, INDEXERS):
            try:
                response = rek.index_faces(
                    CollectionId="crash", Image={"Bytes": photos[i % len(photos)]}, MaxFaces=1
                )
            except Exception:
                assert killed.is_set(), "request failed before the kill"
                return
            with lock:
                indexed.extend(r["Face"]["FaceId"] for r in response["FaceRecords"])

    def delete_loop() -> None:
        while not killed.is_set():
            with lock:
                # Every third acknowledged face is deleted again.
                victims = [f for f in indexed[::3] if f not in deleting][:2]
                deleting.update(victims)
            if not victims:
                time.sleep(0.05)
                continue
            try:
                response = rek.delete_faces(CollectionId="crash", FaceIds=victims)
            except Exception:
                assert killed.is_set(), "request failed before the kill"
                return
            with lock:
                deleted.update(response["DeletedFaces"])

    threads = [threading.Thread(target=index_loop, args=(w,)) for w in range(INDEXERS)]
    threads.append(threading.Thread(target=delete_loop))
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 300
    while len(indexed) < ACKED_BEFORE_KILL and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.set()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    for thread in threads:
        thread.join(timeout=120)
    assert len(indexed) >= ACKED_BEFORE_KILL and deleted, "the load never got going"

    restarted, process = start_server(data_dir)
    try:
        rek = client(restarted, restarted.access_key_id, restarted.secret_access_key)
        stored = {
            face["FaceId"]
            for page in rek.get_paginator("list_faces").paginate(CollectionId="crash")
            for face in page["Faces"]
        }
        assert set(indexed) - deleting <= stored, "an acknowledged IndexFaces was lost"
        assert not deleted & stored, "an acknowledged DeleteFaces came back"
        assert rek.describe_collection(CollectionId="crash")["FaceCount"] == len(stored)
        # Every stored face is searchable and search returns only stored faces: the index
        # was rebuilt to exactly the store, whatever was in flight when the server died.
        probe = next(iter(stored))
        found = rek.search_faces(
            CollectionId="crash", FaceId=probe, FaceMatchThreshold=0, MaxFaces=4096
        )
        assert {m["Face"]["FaceId"] for m in found["FaceMatches"]} | {probe} == stored
        by_image = rek.search_faces_by_image(
            CollectionId="crash", Image={"Bytes": photos[0]}, FaceMatchThreshold=0, MaxFaces=4096
        )
        assert {m["Face"]["FaceId"] for m in by_image["FaceMatches"]} == stored
    finally:
        stop_server(process)
