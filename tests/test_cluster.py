"""Cluster mode end to end: three `oversight serve` nodes on one PostgreSQL database, one Milvus
server and one Redis, each with its own data directory (sharing only the secrets that
docs/DEPLOYMENT.md says to copy). What one node does, the others see at once; work a killed node
held (a stream processor, a video job) is taken over by another. The failover tests kill nodes,
so they come last."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from oversight.api.keys import KeyStore
from oversight.config import settings
from oversight.governance.audit import AuditLog
from oversight.governance.policy import Policy, put_policy
from oversight.keyfiles import CIPHER_FILE, load_cipher
from oversight.store import get_engine
from oversight.video.fanout import EVENT_ID_HEADER, ProcessorEvents
from oversight.video.tables import stream_processors, video_jobs
from tests.api_server import BIN, ApiServer, client, s3_env, start_server, stop_server
from tests.collections_db import throwaway_database
from tests.conftest import shared_path
from tests.video_helpers import (
    BOY_IN_FIRST_FRAME,
    CROWD_CLIP,
    Webhook,
    frame_jpeg,
    mjpeg_stream,
    s3_endpoint,
    upload,
    webhook_receiver,
)

# Three real servers on PostgreSQL, Milvus and Redis, killed on purpose: minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LFW = "faces/krasserm_face-recognition/images"
# What every node of a cluster must share besides the engines (docs/DEPLOYMENT.md).
SHARED_SECRETS = (CIPHER_FILE, "console-session.key")


def photo(person: str, number: int) -> bytes:
    return shared_path(f"{LFW}/{person}/{person}_{number:04d}.jpg").read_bytes()


CAMERA = "arn:aws:kinesisvideo:us-east-1:000000000000:stream/door/1"
EVENTS = "arn:aws:kinesis:us-east-1:000000000000:stream/matches"
LEASE_SECONDS = 6


def sessions(hook: Webhook) -> list[str]:
    """The processor sessions whose events reached the webhook, in order."""
    found = [body["StreamProcessorInformation"]["SessionId"] for _, body in list(hook.received)]
    return list(dict.fromkeys(found))


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    with webhook_receiver() as hook:
        yield hook


@pytest.fixture(scope="module")
def camera() -> Iterator[str]:
    """An MJPEG camera looping the crowd clip's first second (the boy in view) for 5 minutes."""
    clip = shared_path(CROWD_CLIP)
    parts = [frame_jpeg(clip, i) for i in range(0, 30, 3)]

    def frames() -> Iterator[bytes]:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            yield from parts

    with mjpeg_stream(frames, fps=5) as url:
        yield url


@pytest.fixture(scope="module")
def cluster_env(
    milvus_url: str, redis_url: str, webhook: Webhook, camera: str
) -> Iterator[dict[str, str]]:
    with throwaway_database("oversight_cluster") as database, s3_endpoint() as s3:
        upload(s3, "videos", "crowd.mp4", shared_path(CROWD_CLIP))
        yield {
            "OVERSIGHT_DATABASE_URL": database,
            "OVERSIGHT_VECTOR_URL": milvus_url,
            "OVERSIGHT_REDIS_URL": redis_url,
            "OVERSIGHT_VIDEO_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "OVERSIGHT_ENDPOINT_MAP": f"{CAMERA}={camera} {EVENTS}={webhook.url}",
            **s3_env(s3),
        }


@pytest.fixture(scope="module")
def processes(
    tmp_path_factory: pytest.TempPathFactory, cluster_env: dict[str, str]
) -> Iterator[dict[int, tuple[ApiServer, subprocess.Popen[bytes]]]]:
    """The nodes by process id."""
    root = tmp_path_factory.mktemp("cluster")
    first, process = start_server(root / "node-1", cluster_env)
    started = {process.pid: (first, process)}
    try:
        for i in (2, 3):
            data_dir = root / f"node-{i}"
            data_dir.mkdir()
            for name in (*SHARED_SECRETS, "credentials"):
                shutil.copy2(first.data_dir / name, data_dir / name)
            node, process = start_server(data_dir, cluster_env)
            started[process.pid] = (node, process)
        yield started
    finally:
        for _, process in started.values():
            stop_server(process)


@pytest.fixture(scope="module")
def nodes(processes: dict[int, tuple[ApiServer, subprocess.Popen[bytes]]]) -> list[ApiServer]:
    return [node for node, _ in processes.values()]


def owner_pid(owner: str | None) -> int:
    """The process id in a lease's owner ("host:pid:tag")."""
    assert owner is not None
    return int(owner.split(":")[1])


def kill_owner(
    processes: dict[int, tuple[ApiServer, subprocess.Popen[bytes]]], owner: str | None
) -> ApiServer:
    """kill -9 the node holding a lease; returns a node still alive."""
    pid = owner_pid(owner)
    os.kill(pid, signal.SIGKILL)
    processes[pid][1].wait(30)
    return next(node for p, (node, process) in processes.items()
                if p != pid and process.poll() is None)


def rek(node: ApiServer, key: tuple[str, str] | None = None) -> Any:
    key_id, secret = key or (node.access_key_id, node.secret_access_key)
    return client(node, key_id, secret)


def test_a_face_indexed_on_one_node_is_found_by_another_and_deleted_by_a_third(
    nodes: list[ApiServer],
) -> None:
    one, two, three = (rek(node) for node in nodes)
    collection = f"cluster-{uuid.uuid4().hex[:8]}"
    one.create_collection(CollectionId=collection)
    indexed = one.index_faces(CollectionId=collection, Image={"Bytes": photo("Ariel_Sharon", 1)},
                              MaxFaces=1)["FaceRecords"][0]["Face"]
    found = two.search_faces_by_image(CollectionId=collection,
                                      Image={"Bytes": photo("Ariel_Sharon", 2)})["FaceMatches"]
    assert [m["Face"]["FaceId"] for m in found] == [indexed["FaceId"]]

    three.delete_faces(CollectionId=collection, FaceIds=[indexed["FaceId"]])
    for node in (one, two, three):
        after = node.search_faces_by_image(CollectionId=collection,
                                           Image={"Bytes": photo("Ariel_Sharon", 2)})
        assert after["FaceMatches"] == []


def test_a_rate_limit_holds_in_total_across_nodes(
    nodes: list[ApiServer], cluster_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", cluster_env["OVERSIGHT_DATABASE_URL"])
    settings.cache_clear()
    created = KeyStore(get_engine(), load_cipher(nodes[0].data_dir)).create("123456789012")
    key = (created.key.access_key_id, created.secret)
    limit = 6
    put_policy(Policy(created.key.access_key_id, rate_limit_per_minute=limit))
    clients = [rek(node, key) for node in nodes]
    outcomes = []
    for i in range(3 * limit):
        try:
            clients[i % 3].list_collections()
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes.count("ok") == limit
    assert set(outcomes[limit:]) == {"ThrottlingException"}


def test_records_written_through_every_node_verify_as_one_chain(
    nodes: list[ApiServer], cluster_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for node in nodes:  # an audited call through each node
        rek(node).list_collections()
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", cluster_env["OVERSIGHT_DATABASE_URL"])
    settings.cache_clear()
    log = AuditLog()
    records = list(log.records())
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert log.verify().ok
    for node in nodes:  # every node's CLI reads the one chain
        done = subprocess.run([str(BIN / "oversight"), "audit", "head"],
                              env={**node.env, **cluster_env},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and f'"seq": {len(records)}' in done.stdout


def test_a_killed_nodes_stream_processor_is_resumed_by_another(
    processes: dict[int, tuple[ApiServer, subprocess.Popen[bytes]]],
    nodes: list[ApiServer], webhook: Webhook, cluster_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", cluster_env["OVERSIGHT_DATABASE_URL"])
    settings.cache_clear()
    engine = get_engine()
    first = rek(nodes[0])
    first.create_collection(CollectionId="watch")
    first.index_faces(CollectionId="watch", MaxFaces=1, ExternalImageId="boy-in-blue",
                      Image={"Bytes": frame_jpeg(shared_path(CROWD_CLIP), 0, BOY_IN_FIRST_FRAME)})
    first.create_stream_processor(
        Name="door", RoleArn="arn:aws:iam::000000000000:role/r",
        Input={"KinesisVideoStream": {"Arn": CAMERA}},
        Output={"KinesisDataStream": {"Arn": EVENTS}},
        Settings={"FaceSearch": {"CollectionId": "watch", "FaceMatchThreshold": 90.0}})
    first.start_stream_processor(Name="door")
    _wait(lambda: len(sessions(webhook)) == 1, 120, "no match reached the webhook")
    with engine.connect() as conn:
        owner = conn.execute(select(stream_processors.c.owner)).scalar_one()

    survivor = kill_owner(processes, owner)
    _wait(lambda: len(sessions(webhook)) == 2, LEASE_SECONDS + 90,
          "no node resumed the processor of the killed one")
    with engine.connect() as conn:
        new_owner = conn.execute(select(stream_processors.c.owner)).scalar_one()
    assert owner_pid(new_owner) != owner_pid(owner) and owner_pid(new_owner) in processes
    assert rek(survivor).describe_stream_processor(Name="door")["Status"] == "RUNNING"

    # Every event carries an id; a re-delivered event carries its first id and body.
    received = [(headers.get(EVENT_ID_HEADER.lower()), body) for headers, (_, body)
                in zip(list(webhook.headers), list(webhook.received), strict=False)]
    assert received and all(event_id for event_id, _ in received)
    by_id: dict[str, dict[str, Any]] = {}
    for event_id, body in received:
        assert by_id.setdefault(str(event_id), body) == body

    rek(survivor).stop_stream_processor(Name="door")  # through any live node
    _wait(lambda: rek(survivor).describe_stream_processor(Name="door")["Status"] == "STOPPED",
          LEASE_SECONDS + 30, "the processor did not stop")
    with engine.connect() as conn:
        account = conn.execute(select(stream_processors.c.account_id)).scalar_one()
    events = ProcessorEvents(cluster_env["OVERSIGHT_REDIS_URL"], account, "door")
    assert events.redis.exists(events.key)
    rek(survivor).delete_stream_processor(Name="door")  # its matches leave Redis with it
    assert not events.redis.exists(events.key, f"{events.key}:delivered")


def test_a_video_job_of_a_killed_node_still_succeeds(
    processes: dict[int, tuple[ApiServer, subprocess.Popen[bytes]]],
    cluster_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", cluster_env["OVERSIGHT_DATABASE_URL"])
    settings.cache_clear()
    engine = get_engine()
    alive = [node for node, process in processes.values() if process.poll() is None]
    job_id = rek(alive[0]).start_face_detection(
        Video={"S3Object": {"Bucket": "videos", "Name": "crowd.mp4"}})["JobId"]
    owner = None

    def claimed() -> bool:
        nonlocal owner
        with engine.connect() as conn:
            owner = conn.execute(select(video_jobs.c.owner).where(
                video_jobs.c.job_id == job_id)).scalar_one()
        return owner is not None

    _wait(claimed, 60, "no node claimed the job")
    survivor = kill_owner(processes, owner)
    deadline = time.monotonic() + 300
    while (done := rek(survivor).get_face_detection(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
        assert time.monotonic() < deadline, "the job is stuck IN_PROGRESS"
        time.sleep(0.5)
    assert done["JobStatus"] == "SUCCEEDED", done.get("StatusMessage")
    assert done["Faces"]
    with engine.connect() as conn:
        attempts = conn.execute(select(video_jobs.c.attempts).where(
            video_jobs.c.job_id == job_id)).scalar_one()
    assert attempts >= 2  # it ran again elsewhere, not finished by the killed node


def _wait(condition: Any, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.3)
