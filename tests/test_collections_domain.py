"""The collections domain without images: store, vector index and their consistency.

Vectors here are random unit vectors: the mechanics under test (durable rows, index kept equal to
the store, deletes, tenancy) do not depend on what the vectors encode. Face data is exercised
in test_collections_operations.py.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from oversight.collections import Box, CollectionService, DeletionEvent, NewFace
from oversight.collections.pagination import decode_token, encode_token
from oversight.collections.vectors import FaissIndex
from oversight.errors import (
    InvalidPaginationTokenException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from oversight.store import get_engine

DIM = 64


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def new_faces(vectors: np.ndarray, external: str = "img") -> list[NewFace]:
    return [NewFace(v, Box(0.1, 0.2, 0.3, 0.4), 99.5, "image-id", external) for v in vectors]


@pytest.fixture
def service(store_url: str, isolated_data_dir: Path) -> CollectionService:
    return CollectionService(get_engine(store_url), isolated_data_dir / "collections")


def test_collections_are_scoped_to_their_account(
    service: CollectionService,
    account: str,
) -> None:
    service.create_collection(account, "shared-name", "m", {"team": "a"})
    with pytest.raises(ResourceAlreadyExistsException):
        service.create_collection(account, "shared-name", "m", {})
    other = account[::-1]
    service.create_collection(other, "shared-name", "m", {})  # same name, other tenant
    assert [c.collection_id for c in service.store.list_collections(account, 0, 10)] == [
        "shared-name"
    ]
    service.delete_collection(other, "shared-name", reason="test")
    with pytest.raises(ResourceNotFoundException):
        service.collection(other, "shared-name")
    assert service.store.tags(service.collection(account, "shared-name")) == {"team": "a"}


def test_faces_are_stored_searched_and_deleted(
    service: CollectionService,
    account: str,
) -> None:
    events: list[DeletionEvent] = []
    service.on_deletion(events.append)
    collection = service.create_collection(account, "c", "m", {})
    vectors = unit_vectors(40)
    stored = service.add_faces(collection, new_faces(vectors))
    assert len({face.face_id for face in stored}) == 40
    assert all(face.indexed_at.tzinfo is not None for face in stored)

    collection = service.collection(account, "c")
    best = service.search(collection, vectors[7], 3)
    assert best[0].face.face_id == stored[7].face_id
    assert best[0].cosine == pytest.approx(1.0, abs=1e-5)
    similar = service.search_face(collection, stored[7].face_id, 40)
    assert len(similar) == 39 and stored[7].face_id not in {m.face.face_id for m in similar}

    outcome = service.delete_faces(account, "c", [stored[7].face_id, "missing"], reason="test")
    assert [face.face_id for face in outcome.deleted] == [stored[7].face_id]
    assert outcome.kept == {"missing": (None, ["FACE_NOT_FOUND"])}
    assert events and events[0].reason == "test" and events[0].faces[0].seq == stored[7].seq

    collection = service.collection(account, "c")
    assert stored[7].face_id not in {
        m.face.face_id for m in service.search(collection, vectors[7], 40)
    }
    assert service.store.counts(collection) == (39, 0)


def test_user_faces_are_kept_unless_forced(
    service: CollectionService,
    account: str,
) -> None:
    collection = service.create_collection(account, "c", "m", {})
    stored = service.add_faces(collection, new_faces(unit_vectors(2)))
    service.users.create_user(collection, "alice")
    service.users.set_face_user(collection, [stored[0].face_id], "alice", expected=None)
    kept = service.delete_faces(account, "c", [stored[0].face_id], reason="DeleteFaces")
    assert kept.deleted == []
    assert kept.kept == {stored[0].face_id: ("alice", ["ASSOCIATED_TO_AN_EXISTING_USER"])}
    forced = service.delete_faces(account, "c", [stored[0].face_id], reason="retention", force=True)
    assert [face.face_id for face in forced.deleted] == [stored[0].face_id]


def test_index_reconciles_with_changes_made_by_another_process(
    service: CollectionService,
    store_url: str,
    account: str,
    tmp_path: Path,
) -> None:
    collection = service.create_collection(account, "c", "m", {})
    vectors = unit_vectors(30)
    stored = service.add_faces(collection, new_faces(vectors[:20]))
    service.search(service.collection(account, "c"), vectors[0], 1)  # load this process's index

    # A second process (own index directory) adds and deletes faces in the same store.
    other = CollectionService(get_engine(store_url), tmp_path / "other-process")
    later = other.add_faces(other.collection(account, "c"), new_faces(vectors[20:]))
    other.delete_faces(account, "c", [stored[0].face_id], reason="test")

    collection = service.collection(account, "c")
    assert service.search(collection, vectors[25], 1)[0].face.face_id == later[5].face_id
    assert stored[0].face_id not in {
        m.face.face_id for m in service.search(collection, vectors[0], 30)
    }
    seqs, _ = service.store.face_seqs(collection)
    entry = service.indexes._entries[collection.uid]
    assert sorted(entry.index.ids()) == sorted(seqs)


def test_saved_index_with_deleted_faces_leaves_no_ghosts_after_restart(
    service: CollectionService,
    store_url: str,
    account: str,
    isolated_data_dir: Path,
) -> None:
    collection = service.create_collection(account, "c", "m", {})
    vectors = unit_vectors(10)
    stored = service.add_faces(collection, new_faces(vectors))
    service.search(service.collection(account, "c"), vectors[0], 1)
    service.close()  # index file now holds all ten faces
    # Deleted while the saved file still has it (as if the process died before saving again).
    CollectionService(get_engine(store_url), isolated_data_dir / "elsewhere").delete_faces(
        account, "c", [stored[3].face_id], reason="test"
    )
    restarted = CollectionService(get_engine(store_url), isolated_data_dir / "collections")
    report = [r for r in restarted.check_indexes("m", DIM) if r["AccountId"] == account]
    assert report == [
        {
            "AccountId": account,
            "CollectionId": "c",
            "StoredFaces": 9,
            "IndexedFaces": 9,
            "GhostsRemoved": 1,
            "Replayed": 0,
        }
    ]
    collection = restarted.collection(account, "c")
    hits = restarted.search(collection, vectors[3], 10)
    assert stored[3].face_id not in {m.face.face_id for m in hits}
    assert stored[3].seq not in set(restarted.indexes._entries[collection.uid].index.ids())


def test_unreadable_index_file_is_rebuilt_from_the_store(
    service: CollectionService,
    account: str,
    isolated_data_dir: Path,
    store_url: str,
) -> None:
    collection = service.create_collection(account, "c", "m", {})
    vectors = unit_vectors(5)
    service.add_faces(collection, new_faces(vectors))
    (isolated_data_dir / "collections").mkdir(parents=True, exist_ok=True)
    (isolated_data_dir / "collections" / f"{collection.uid}.index").write_bytes(b"\x01torn")
    restarted = CollectionService(get_engine(store_url), isolated_data_dir / "collections")
    hits = restarted.search(restarted.collection(account, "c"), vectors[4], 1)
    assert hits[0].cosine == pytest.approx(1.0, abs=1e-5)


def test_faiss_index_switches_to_ivf_and_keeps_identity_recall() -> None:
    rng = np.random.default_rng(1)
    # Face-like data: identities as cluster centres, samples scattered around them.
    centres = unit_vectors(3000, seed=2)
    gallery = centres + 0.35 * rng.standard_normal(centres.shape).astype(np.float32) / np.sqrt(DIM)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    probes = centres[:300] + 0.35 * rng.standard_normal((300, DIM)).astype(np.float32) / np.sqrt(
        DIM
    )
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)

    index = FaissIndex(DIM, approximate_above=2000)
    index.add(np.arange(1500), gallery[:1500])
    assert not index.approximate
    index.add(np.arange(1500, 3000), gallery[1500:])
    assert index.approximate and len(index) == 3000
    hits = [index.search(p, 1)[1][0] for p in probes]
    assert np.mean(np.array(hits) == np.arange(300)) >= 0.99

    index.remove(np.arange(0, 100))
    assert len(index) == 2900 and index.search(probes[0], 1)[1][0] != 0
    restored = FaissIndex.from_bytes(index.to_bytes(), approximate_above=2000)
    assert restored.approximate and sorted(restored.ids()) == sorted(index.ids())
    restored.remove(np.arange(100, 2001))  # shrinks below half the threshold: exact again
    assert not restored.approximate and len(restored) == 999
    # The exact index was rebuilt from the decoded 8-bit codes: each face still finds itself.
    found = [restored.search(gallery[i], 1)[1][0] for i in range(2001, 3000, 50)]
    assert found == list(range(2001, 3000, 50))


def test_faiss_index_reads_an_ivfflat_index_of_an_earlier_version() -> None:
    gallery = unit_vectors(3000, seed=3)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, 16, faiss.METRIC_INNER_PRODUCT)
    ivf.train(gallery)
    ivf.add_with_ids(gallery, np.arange(3000))
    index = FaissIndex.from_bytes(faiss.serialize_index(ivf).tobytes(), approximate_above=2000)
    assert index.approximate and sorted(index.ids()) == list(range(3000))
    index.remove(np.arange(999, 3000))  # rebuilt (exact) from the float32 codes
    assert not index.approximate and index.search(gallery[7], 1)[1][0] == 7


def test_pagination_tokens_reject_tampering() -> None:
    assert decode_token("faces", encode_token("faces", 42)) == 42
    assert decode_token("faces", None) == 0
    for bad in ("not base64!", encode_token("users", 1), "Zm9vOmJhcg=="):
        with pytest.raises(InvalidPaginationTokenException):
            decode_token("faces", bad)
