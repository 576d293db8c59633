"""The collections domain in one object: store + vector indexes, account-scoped.

Operations call this; it knows nothing of images, HTTP or audit. Every face deletion in the
system goes through `delete_faces` or `delete_collection` (DeleteFaces, retention sweeps;
DeleteUser never deletes faces), and every registered deletion hook sees it inside the deleting
transaction: a hook that fails undoes the deletion.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from ..config import settings
from ..errors import InvalidParameterException
from ..store import get_engine
from .indexes import IndexRegistry, VectorRegistry
from .records import Collection, Deletion, FaceMatch, NewFace, StoredFace
from .store import CollectionStore
from .user_store import UserStore


@dataclass(frozen=True)
class DeletionEvent:
    """What a deletion hook receives: faces about to be gone from the store and the index."""

    account_id: str
    collection_id: str
    faces: list[StoredFace]
    reason: str
    deleted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # True when the whole collection goes (DeleteCollection); `faces` is then empty and
    # `face_count` says how many faces it held.
    collection_deleted: bool = False
    face_count: int = 0
    # Who asked, when a request did (a retention sweep names itself in `request_id` only).
    access_key_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Requester:
    """The access key and request behind a deletion, for its receipt."""

    access_key_id: str | None = None
    request_id: str | None = None


DeletionHook = Callable[[DeletionEvent], None]


def vector_registry(store: CollectionStore, index_dir: Path, vector_url: str) -> VectorRegistry:
    """Faiss in this process (empty url) or the shared Milvus server at `milvus://host:port`."""
    if not vector_url:
        return IndexRegistry(store, index_dir)
    from .milvus import MilvusRegistry  # pymilvus loads only in cluster mode

    return MilvusRegistry(store, vector_url)


class CollectionService:
    def __init__(self, engine: Engine, index_dir: Path, vector_url: str = "") -> None:
        self.store = CollectionStore(engine)
        self.users = UserStore(engine)
        self.indexes = vector_registry(self.store, index_dir, vector_url)
        self._deletion_hooks: list[DeletionHook] = []

    # -- hooks ---------------------------------------------------------------------------------
    def on_deletion(self, hook: DeletionHook) -> None:
        """Call `hook` inside every face deletion's transaction, before it commits (receipts):
        a hook that raises undoes the deletion, so no deletion goes without its receipt."""
        self._deletion_hooks.append(hook)

    def _notify(self, event: DeletionEvent) -> None:
        for hook in self._deletion_hooks:
            hook(event)

    # -- collections ---------------------------------------------------------------------------
    def create_collection(
        self, account_id: str, collection_id: str, face_model: str, tags: dict[str, str],
        matcher: str = "fused",
    ) -> Collection:
        return self.store.create_collection(account_id, collection_id, face_model, tags, matcher)

    def collection(self, account_id: str, collection_id: str) -> Collection:
        return self.store.get_collection(account_id, collection_id)

    def delete_collection(
        self, account_id: str, collection_id: str, reason: str, by: Requester | None = None
    ) -> None:
        collection = self.store.get_collection(account_id, collection_id)
        by = by or Requester()

        def receipt(_: Collection, face_count: int) -> None:
            self._notify(DeletionEvent(
                account_id, collection_id, [], reason, collection_deleted=True,
                face_count=face_count, access_key_id=by.access_key_id, request_id=by.request_id,
            ))

        with self.indexes.writing(collection):
            self.store.delete_collection(account_id, collection_id, receipt)
            self.indexes.drop(collection)

    def list_collections(self, account_id: str, after_pk: int, limit: int) -> list[Collection]:
        return self.store.list_collections(account_id, after_pk, limit)

    def counts(self, collection: Collection) -> tuple[int, int]:
        """(faces, users) the collection holds."""
        return self.store.counts(collection)

    def tags(self, collection: Collection) -> dict[str, str]:
        return self.store.tags(collection)

    def tag(self, collection: Collection, tag_map: dict[str, str]) -> None:
        self.store.tag(collection, tag_map)

    def untag(self, collection: Collection, keys: Sequence[str]) -> None:
        self.store.untag(collection, keys)

    # -- faces ---------------------------------------------------------------------------------
    def add_faces(self, collection: Collection, faces: Sequence[NewFace]) -> list[StoredFace]:
        """Store faces durably, then make them searchable; returns them with their FaceIds."""
        if not faces:
            return []
        vectors = np.vstack([face.embedding for face in faces]).astype(np.float32)
        with self.indexes.writing(collection) as index:
            stored, revision = self.store.insert_faces(
                collection, faces, lambda conn, stored: index.staged(conn, stored, vectors)
            )
            index.committed(revision, added=stored, vectors=vectors)
        return stored

    def delete_faces(
        self,
        account_id: str,
        collection_id: str,
        face_ids: Sequence[str],
        reason: str,
        force: bool = False,
        by: Requester | None = None,
    ) -> Deletion:
        """Delete faces by FaceId: the one path every face deletion takes.

        Faces associated to a user are kept (Rekognition's rule) unless `force` (retention:
        an expired face goes whoever it belongs to). `reason` and `by` reach the deletion hooks.
        """
        collection = self.store.get_collection(account_id, collection_id)
        by = by or Requester()

        def receipt(deleted: list[StoredFace]) -> None:
            self._notify(DeletionEvent(
                account_id, collection_id, deleted, reason,
                access_key_id=by.access_key_id, request_id=by.request_id,
            ))

        with self.indexes.writing(collection) as index:
            deleted, kept, revision = self.store.delete_faces(collection, face_ids, force, receipt)
            index.committed(revision, removed=deleted)
        found = {face.face_id for face in deleted + kept}
        refused: dict[str, tuple[str | None, list[str]]] = {
            fid: (None, ["FACE_NOT_FOUND"]) for fid in dict.fromkeys(face_ids) if fid not in found
        }
        for face in kept:
            refused[face.face_id] = (face.user_id, ["ASSOCIATED_TO_AN_EXISTING_USER"])
        return Deletion(deleted=deleted, kept=refused)

    def list_faces(
        self, collection: Collection, after_seq: int, limit: int,
        user_id: str | None = None, face_ids: Sequence[str] | None = None,
    ) -> list[StoredFace]:
        """Faces after `after_seq` in indexing order, of one user or FaceIds if given."""
        return self.store.list_faces(collection, after_seq, limit, user_id, face_ids)

    def face_with_embedding(
        self, collection: Collection, face_id: str
    ) -> tuple[StoredFace, np.ndarray] | None:
        return self.store.face_with_embedding(collection, face_id)

    def search(
        self,
        collection: Collection,
        query: np.ndarray,
        max_faces: int,
        exclude_seq: int | None = None,
    ) -> list[FaceMatch]:
        """Nearest stored faces by cosine, best first (only faces the store still holds)."""
        extra = 1 if exclude_seq is not None else 0
        scores, seqs = self.indexes.search(collection, query, max_faces + extra)
        found = self.store.faces_by_seq(collection, [int(s) for s in seqs])
        matches = [
            FaceMatch(found[int(seq)], float(score))
            for score, seq in zip(scores, seqs, strict=True)
            if int(seq) in found and int(seq) != exclude_seq
        ]
        return matches[:max_faces]

    def search_face(self, collection: Collection, face_id: str, max_faces: int) -> list[FaceMatch]:
        """Faces like a stored face (itself excluded)."""
        stored = self.store.face_with_embedding(collection, face_id)
        if stored is None:
            raise InvalidParameterException(f"No face with FaceId {face_id} in the collection")
        face, vector = stored
        return self.search(collection, vector, max_faces, exclude_seq=face.seq)

    # -- users (a named set of faces; deleting a user never deletes its faces) -----------------
    def create_user(self, collection: Collection, user_id: str) -> None:
        self.users.create_user(collection, user_id)

    def delete_user(self, collection: Collection, user_id: str) -> None:
        self.users.delete_user(collection, user_id)

    def require_user(self, collection: Collection, user_id: str) -> None:
        """ResourceNotFoundException unless the collection has this user."""
        self.users.require_user(collection, user_id)

    def list_users(
        self, collection: Collection, after_pk: int, limit: int
    ) -> list[tuple[int, str, int]]:
        """(pk, UserId, face count) after `after_pk`, in creation order."""
        return self.users.list_users(collection, after_pk, limit)

    def user_faces(self, collection: Collection, user_id: str) -> tuple[list[str], np.ndarray]:
        """The FaceIds of a user's faces and their embeddings."""
        return self.users.user_faces(collection, user_id)

    def faces_for_association(
        self, collection: Collection, face_ids: Sequence[str]
    ) -> dict[str, tuple[str | None, np.ndarray]]:
        """FaceId -> (its current user, its embedding) for the faces that exist."""
        return self.users.faces_for_association(collection, face_ids)

    def set_face_user(
        self, collection: Collection, face_ids: Sequence[str], user_id: str | None,
        expected: str | None,
    ) -> list[str]:
        """Point faces currently owned by `expected` at `user_id`; the FaceIds changed."""
        return self.users.set_face_user(collection, face_ids, user_id, expected)

    def remembered(
        self, account_id: str, operation: str, token: str, digest: str
    ) -> dict[str, Any] | None:
        """The response a ClientRequestToken already got (IdempotentParameterMismatch if the
        request differed), or None."""
        return self.users.remembered(account_id, operation, token, digest)

    def remember(
        self, account_id: str, operation: str, token: str, digest: str, response: dict[str, Any]
    ) -> None:
        self.users.remember(account_id, operation, token, digest, response)

    def check_indexes(self, face_model: str, dim: int) -> list[dict[str, object]]:
        """Reconcile the vector index of every collection of `face_model` (dimension `dim`) with
        the store now, instead of at its first search (start-up replay), and report what each
        needed. Collections of another model cannot be searched and are left alone."""
        report: list[dict[str, object]] = []
        for collection in self.store.all_collections():
            if collection.face_model != face_model:
                continue
            stored, _ = self.store.counts(collection)
            outcome = self.indexes.check(collection, dim)
            report.append(
                {
                    "AccountId": collection.account_id,
                    "CollectionId": collection.collection_id,
                    "StoredFaces": stored,
                    **outcome,
                }
            )
        return report

    def close(self) -> None:
        self.indexes.save_all()


_services: dict[tuple[str, Path, str], CollectionService] = {}
_services_lock = threading.Lock()


def collection_service() -> CollectionService:
    """The process-wide service for the configured store and data directory."""
    config = settings()
    key = (config.sqlalchemy_url, config.data_dir.resolve(), config.vector_url)
    with _services_lock:
        if key not in _services:
            service = CollectionService(get_engine(key[0]), key[1] / "collections", key[2])
            atexit.register(service.close)
            _services[key] = service
        return _services[key]
