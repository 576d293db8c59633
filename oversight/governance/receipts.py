"""Deletion receipts: one audit record for every face deletion, whatever caused it (DeleteFaces,
DeleteCollection, a retention sweep), written through the collections domain's deletion hook
inside the deleting transaction, so no deletion path can skip it and none commits without it.
Each names the access key and request that asked (a sweep: no key, its own sweep id)."""

from __future__ import annotations

import threading
import weakref

from ..collections import CollectionService, DeletionEvent, collection_service
from . import audit
from .records import now_iso

_watched: weakref.WeakSet[CollectionService] = weakref.WeakSet()
_lock = threading.Lock()


def watch_deletions() -> None:
    """Make sure this process's collection service reports its deletions to the audit log."""
    service = collection_service()
    with _lock:
        if service not in _watched:
            service.on_deletion(write_receipt)
            _watched.add(service)


def write_receipt(event: DeletionEvent) -> None:
    """Runs inside the deletion's transaction: when the receipt cannot be written, the
    InternalServerError it raises undoes the deletion."""
    audit.write({
        "time": now_iso(),
        "kind": "deletion",
        "account": event.account_id,
        "key": event.access_key_id,
        "request_id": event.request_id,
        "collection": event.collection_id,
        "reason": event.reason,
        "deleted_at": event.deleted_at.isoformat(),
        "collection_deleted": event.collection_deleted,
        "face_ids": [face.face_id for face in event.faces],
        "count": event.face_count if event.collection_deleted else len(event.faces),
    })
