"""What a request may cost before its signature is checked: the body is bounded by its
operation's own limit before a byte of it is read, and the bodies being received or
authenticated share one server-wide budget.

An image operation's body holds at most its images at Rekognition's inline limit (5 MB each, sent
as base64, 4/3 larger) plus the rest of the request; any other operation only the rest. The rest
is allowed `JSON_ALLOWANCE` bytes, above the largest valid request the model permits in practice
(TagResource's 200 tags of non-ASCII text, every character sent as a \\uXXXX escape: 470 KB).
A body arriving while `max_unauthenticated_bytes` are already held for unauthenticated requests
is refused at once with ThrottlingException (botocore retries it), so held-open uploads cannot
grow memory; a body not received within `body_timeout_seconds` is RequestTimeoutException.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cache

import anyio
from botocore.model import OperationModel, Shape
from starlette.requests import Request

from ..errors import RequestTimeoutException, ThrottlingException
from .validation import too_large

JSON_ALLOWANCE = 512 * 1024


def _base64_size(raw: int) -> int:
    return 4 * -(-raw // 3)


def _blob_bytes(shape: Shape, seen: frozenset[str] = frozenset()) -> int:
    """The most bytes the blobs in `shape` can hold on the wire (base64)."""
    if shape.name in seen:
        return 0
    seen = seen | {shape.name}
    kind = shape.type_name
    if kind == "blob":
        return _base64_size(int(shape.metadata.get("max", 0)))
    if kind == "structure":
        return sum(_blob_bytes(member, seen) for member in shape.members.values())
    if kind == "list":  # no Rekognition list holds blobs; counted once should one appear
        return _blob_bytes(shape.member, seen)
    return 0


@cache
def body_limit(operation: OperationModel) -> int:
    """The largest body a valid request for `operation` can have."""
    shape = operation.input_shape
    return JSON_ALLOWANCE + (_blob_bytes(shape) if shape is not None else 0)


class UnauthenticatedBytes:
    """Bytes held for bodies whose signature is not yet checked, server-wide. Used from the
    event loop only (one thread), so a plain counter is exact."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        if self.held + size > self.limit:
            raise ThrottlingException(
                "Too many request bodies are being received; retry later."
            )
        self.held += size
        try:
            yield
        finally:
            self.held -= size


@asynccontextmanager
async def unauthenticated_body(
    request: Request,
    operation: OperationModel,
    limit: int,
    budget: UnauthenticatedBytes,
    timeout: float,
) -> AsyncIterator[bytes]:
    """The request body, read within `limit` bytes and `timeout` seconds; its bytes count
    against `budget` until the block (which authenticates it) ends."""
    message = f"Request body exceeds the {limit} byte limit of {operation.name}."
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(operation, message)
    # A body of unknown length (chunked) is held at its largest until it is read.
    with budget.hold(int(declared) if declared.isdigit() else limit):
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(timeout) as scope:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large(operation, message)
                chunks.append(chunk)
        if scope.cancelled_caught:
            raise RequestTimeoutException(f"Request body not received within {timeout} seconds.")
        yield b"".join(chunks)
