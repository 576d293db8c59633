"""What the collection, face, user, video, stream and tag handlers share about resources: the
caller's collection (and whether this server can search it), its ARN, page sizes and tag rules."""

from __future__ import annotations

from typing import Any

from ..analysis import EMBEDDING_MODEL
from ..collections import Collection, collection_service
from ..errors import InvalidParameterException, ServiceQuotaExceededException
from ..rekognition import DEFAULT_PAGE_SIZE
from .arns import COLLECTION, resource_arn
from .context import RequestContext

MAX_TAGS = 50


def collection_arn(collection: Collection) -> str:
    return resource_arn(COLLECTION, collection.account_id, collection.collection_id)


def requested_collection(request: dict[str, Any], ctx: RequestContext) -> Collection:
    """The caller's collection named by the request (ResourceNotFoundException if none)."""
    return collection_service().collection(ctx.account_id, request["CollectionId"])


def searchable_collection(request: dict[str, Any], ctx: RequestContext) -> Collection:
    """The requested collection, checked to hold vectors comparable with this server's model."""
    collection = requested_collection(request, ctx)
    if collection.face_model != EMBEDDING_MODEL:
        raise InvalidParameterException(
            f"Collection {collection.collection_id} holds faces of model "
            f"{collection.face_model}; this server embeds with {EMBEDDING_MODEL}"
        )
    return collection


def page_size(request: dict[str, Any], default: int = DEFAULT_PAGE_SIZE) -> int:
    return request.get("MaxResults") or default


def check_tags(tags: dict[str, str], existing: int = 0) -> None:
    if any(key.startswith("aws:") for key in tags):
        raise InvalidParameterException("Tag keys starting with aws: are reserved")
    if existing + len(tags) > MAX_TAGS:
        raise ServiceQuotaExceededException(f"A resource can have at most {MAX_TAGS} tags")
