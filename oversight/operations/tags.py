"""TagResource, UntagResource and ListTagsForResource on collections and stream processors.

The ARN says which kind of resource is meant (operations/arns.py); another account's, another
region's or a missing resource is not found. Limits follow Rekognition: at most 50 tags, and
keys starting with "aws:" are reserved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..collections import collection_service
from ..errors import ResourceNotFoundException
from ..video.runtime import processor_store
from . import RequestContext, operation
from .arns import COLLECTION, parse_resource_arn
from .resources import check_tags


@dataclass(frozen=True)
class _Tags:
    read: Callable[[], dict[str, str]]
    change: Callable[[dict[str, str], Sequence[str]], None]  # (tags to set, keys to remove)


def _tags_of(request: dict[str, Any], ctx: RequestContext) -> _Tags:
    """The tags of the caller's resource that `ResourceArn` names."""
    arn = request["ResourceArn"]
    kind, name = parse_resource_arn(arn, ctx.account_id)
    try:
        if kind == COLLECTION:
            service = collection_service()
            collection = service.collection(ctx.account_id, name)

            def change(add: dict[str, str], remove: Sequence[str]) -> None:
                if add:
                    service.tag(collection, add)
                if remove:
                    service.untag(collection, remove)

            return _Tags(lambda: service.tags(collection), change)
        processors = processor_store()
        processors.get(ctx.account_id, name)
    except ResourceNotFoundException as exc:
        raise ResourceNotFoundException(f"Resource {arn} not found") from exc
    return _Tags(lambda: processors.get(ctx.account_id, name).definition.get("Tags") or {},
                 lambda add, remove: processors.update_tags(ctx.account_id, name, add, remove))


@operation("TagResource")
def tag_resource(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    tags = _tags_of(request, ctx)
    existing = tags.read()
    check_tags({k: v for k, v in request["Tags"].items() if k not in existing}, len(existing))
    tags.change(request["Tags"], ())
    return {}


@operation("UntagResource")
def untag_resource(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    _tags_of(request, ctx).change({}, request["TagKeys"])
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return {"Tags": _tags_of(request, ctx).read()}
