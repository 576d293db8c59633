"""Collections, faces and users: durable metadata store + vector index for 1:N search.

`collection_service()` is the entry point; `CollectionService.delete_faces` is the single path
every face deletion takes, and `on_deletion` lets other domains (governance) record it before
it commits.
"""

from .records import Box, Collection, Deletion, FaceMatch, NewFace, StoredFace
from .service import (
    CollectionService,
    DeletionEvent,
    DeletionHook,
    Requester,
    collection_service,
)

__all__ = [
    "Box",
    "Collection",
    "CollectionService",
    "Deletion",
    "DeletionEvent",
    "DeletionHook",
    "FaceMatch",
    "NewFace",
    "Requester",
    "StoredFace",
    "collection_service",
]
