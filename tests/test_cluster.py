"""Cluster mode end to end: three `oversight serve` nodes on one PostgreSQL database, one Milvus
server and one Redis, each with its own data directory (sharing only the secrets that
docs/DEPLOYMENT.md says to copy). What one node does, the others see at once."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from oversight.api.keys import KeyStore
from oversight.config import settings
from oversight.governance.audit import AuditLog
from oversight.governance.policy import Policy, put_policy
from oversight.keyfiles import CIPHER_FILE, load_cipher
from oversight.store import get_engine
from tests.api_server import BIN, ApiServer, client, start_server, stop_server
from tests.collections_db import _throwaway_database
from tests.conftest import shared_path
from tests.redis_server import redis_url  # noqa: F401

LFW = "faces/krasserm_face-recognition/images"
# What every node of a cluster must share besides the engines (docs/DEPLOYMENT.md).
SHARED_SECRETS = (CIPHER_FILE, "console-session.key")


def photo(person: str, number: int) -> bytes:
    return shared_path(f"{LFW}/{person}/{person}_{number:04d}.jpg").read_bytes()


@pytest.fixture(scope="module")
def cluster_env(
    tmp_path_factory: pytest.TempPathFactory, milvus_url: str, redis_url: str  # noqa: F811
) -> Iterator[dict[str, str]]:
    database = _throwaway_database("oversight_cluster")
    yield {
        "OVERSIGHT_DATABASE_URL": next(database),
        "OVERSIGHT_VECTOR_URL": milvus_url,
        "OVERSIGHT_REDIS_URL": redis_url,
    }
    next(database, None)  # drops the database


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory, cluster_env: dict[str, str]
) -> Iterator[list[ApiServer]]:
    root = tmp_path_factory.mktemp("cluster")
    first, process = start_server(root / "node-1", cluster_env)
    processes = [process]
    started = [first]
    try:
        for i in (2, 3):
            data_dir = root / f"node-{i}"
            data_dir.mkdir()
            for name in (*SHARED_SECRETS, "credentials"):
                shutil.copy2(first.data_dir / name, data_dir / name)
            node, process = start_server(data_dir, cluster_env)
            started.append(node)
            processes.append(process)
        yield started
    finally:
        for process in processes:
            stop_server(process)


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
