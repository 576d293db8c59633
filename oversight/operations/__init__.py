"""One function per Rekognition operation: a plain request dict in, a Rekognition-shaped dict out.

Handlers register themselves with `@operation("DetectFaces")` in any module of this package.
Nothing here knows about HTTP, authentication or audit: the api layer validates the request
against botocore's model before a handler runs, and governance wraps the call.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache
from typing import Any

from .context import RequestContext

Request = dict[str, Any]
Response = dict[str, Any]
Handler = Callable[[Request, RequestContext], Response]

_REGISTRY: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in _REGISTRY:
            raise RuntimeError(f"operation {name} registered twice")
        _REGISTRY[name] = handler
        return handler

    return register


@cache
def _import_handler_modules() -> None:
    # Once per process: scanning the package on every request would cost a directory listing.
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def registry() -> dict[str, Handler]:
    """All implemented operations: every module of this package is imported (once), and its
    `@operation` decorators register its handlers (no list to keep in step)."""
    _import_handler_modules()
    return _REGISTRY


def call(name: str, request: Request, ctx: RequestContext | None = None) -> Response:
    """Run an operation in-process (CLI, tests, benchmarks): no HTTP, same code path."""
    return registry()[name](request, ctx or RequestContext.local())


__all__ = ["Handler", "Request", "RequestContext", "Response", "call", "operation", "registry"]
