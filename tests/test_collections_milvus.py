"""The collections domain on Milvus (cluster mode): two services on one PostgreSQL store and one
Milvus server behave as two nodes. The backend-independent domain tests run here too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oversight.collections import Collection, CollectionService
from oversight.collections.milvus import MilvusRegistry
from oversight.store import get_engine
from tests.test_collections_domain import (  # noqa: F401  (collected again, on Milvus)
    DIM,
    new_faces,
    test_collections_are_scoped_to_their_account,
    test_faces_are_stored_searched_and_deleted,
    test_user_faces_are_kept_unless_forced,
    unit_vectors,
)

# Every test here runs on PostgreSQL (the store two nodes share).
pytestmark = pytest.mark.postgres


@pytest.fixture
def store_url(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", postgres_url)
    return postgres_url


def node(store_url: str, milvus_url: str, data_dir: Path) -> CollectionService:
    return CollectionService(get_engine(store_url), data_dir / "collections", milvus_url)


@pytest.fixture
def service(store_url: str, milvus_url: str, tmp_path: Path) -> CollectionService:
    return node(store_url, milvus_url, tmp_path / "node-1")


def milvus_rows(service: CollectionService, collection: Collection) -> dict[int, str]:
    """seq -> FaceId of the rows Milvus holds for `collection`."""
    registry = service.indexes
    assert isinstance(registry, MilvusRegistry)
    return registry.milvus.rows(collection.uid, DIM)


def test_a_face_indexed_on_one_node_is_found_on_another_at_once_and_never_after_delete(
    service: CollectionService,
    store_url: str,
    milvus_url: str,
    account: str,
    tmp_path: Path,
) -> None:
    other_node = node(store_url, milvus_url, tmp_path / "node-2")
    vectors = unit_vectors(12, seed=5)
    service.create_collection(account, "c", "m", {})
    # Another tenant holds the very same vectors: it must never leak into this one's results.
    service.create_collection(account[::-1], "c", "m", {})
    theirs = service.add_faces(service.collection(account[::-1], "c"), new_faces(vectors))
    for i in range(len(vectors)):
        stored = service.add_faces(service.collection(account, "c"), new_faces(vectors[i : i + 1]))
        hits = other_node.search(other_node.collection(account, "c"), vectors[i], 3)
        assert hits[0].face.face_id == stored[0].face_id  # read-after-write, every time
        assert hits[0].cosine == pytest.approx(1.0, abs=1e-4)
        assert not {m.face.face_id for m in hits} & {face.face_id for face in theirs}

    mine = other_node.search(other_node.collection(account, "c"), vectors[4], 1)[0].face
    service.delete_faces(account, "c", [mine.face_id], reason="test")
    hits = other_node.search(other_node.collection(account, "c"), vectors[4], 12)
    assert mine.face_id not in {m.face.face_id for m in hits} and len(hits) == 11
    assert mine.seq not in milvus_rows(service, service.collection(account, "c"))

    gone = service.collection(account[::-1], "c")
    service.delete_collection(account[::-1], "c", reason="test")
    assert milvus_rows(service, gone) == {}


def test_check_removes_ghosts_and_replays_missing_rows(
    service: CollectionService,
    account: str,
) -> None:
    collection = service.create_collection(account, "c", "m", {})
    vectors = unit_vectors(6, seed=7)
    stored = service.add_faces(collection, new_faces(vectors[:5]))
    registry = service.indexes
    assert isinstance(registry, MilvusRegistry)
    table = registry.milvus.table(DIM)
    # A crash between Milvus and the store: a row for a face the store never committed, and a
    # committed face whose row is gone.
    ghost = {"face_id": "ghost-face", "collection_uid": collection.uid, "seq": 10**12}
    table.insert([{**ghost, "vector": vectors[5].tolist()}])
    table.delete(f"face_id in {json.dumps([stored[2].face_id])}")

    report = [r for r in service.check_indexes("m", DIM) if r["AccountId"] == account]
    assert report == [
        {
            "AccountId": account,
            "CollectionId": "c",
            "StoredFaces": 5,
            "IndexedFaces": 5,
            "GhostsRemoved": 1,
            "Replayed": 1,
        }
    ]
    assert sorted(milvus_rows(service, collection)) == sorted(face.seq for face in stored)
    hits = service.search(service.collection(account, "c"), vectors[2], 1)
    assert hits[0].face.face_id == stored[2].face_id


def test_rows_staged_for_a_rolled_back_insert_are_removed(
    service: CollectionService,
    account: str,
) -> None:
    collection = service.create_collection(account, "c", "m", {})
    vectors = unit_vectors(2, seed=9)

    def stage_then_fail(index, conn, stored):  # type: ignore[no-untyped-def]
        index.staged(conn, stored, vectors)
        raise RuntimeError("the store transaction fails after Milvus took the rows")

    with pytest.raises(RuntimeError):
        with service.indexes.writing(collection) as index:
            service.store.insert_faces(
                collection, new_faces(vectors), lambda c, s: stage_then_fail(index, c, s)
            )
    assert milvus_rows(service, collection) == {}
    assert service.store.counts(collection) == (0, 0)


def test_milvus_needs_a_postgresql_store(isolated_data_dir: Path) -> None:
    sqlite = get_engine(f"sqlite:///{isolated_data_dir / 'oversight.db'}")
    with pytest.raises(ValueError, match="PostgreSQL"):
        CollectionService(sqlite, isolated_data_dir / "collections", "milvus://127.0.0.1:1")
