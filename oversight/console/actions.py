"""Running a Rekognition operation, or a console read (audit log, report), for a console user:
the API's path, without the HTTP.

The request dict is validated against botocore's model, admitted by the governance gate under
the user's key and stated purpose, run, and recorded in the audit log (`api.calls.governed_call`,
the function the CLI uses), in a worker thread holding one of the server's inference slots, so
console work and API work share `max_concurrent_inference`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

import anyio
from starlette.requests import Request

from ..api.calls import governed_call
from ..api.events import StreamSlots
from ..api.keys import KeyStore
from ..errors import InternalServerError, RekognitionError
from ..governance.gate import governed
from ..governance.ratelimit import FailureThrottle
from .session import ConsoleUser

log = logging.getLogger(__name__)


class ServerState(Protocol):
    """What the console uses of the state `api.app.create_app` builds at start-up."""

    auth_failures: FailureThrottle
    keys: KeyStore
    slots: anyio.CapacityLimiter
    streams: StreamSlots


def server_state(request: Request) -> ServerState:
    return cast(ServerState, request.app.state.oversight)


async def run_operation(
    request: Request, user: ConsoleUser, name: str, body: dict[str, Any], purpose: str | None
) -> dict[str, Any]:
    """The operation's response, or the RekognitionError an API client would get."""
    ctx = user.context(purpose)
    try:
        return await anyio.to_thread.run_sync(
            governed_call, name, body, ctx, limiter=server_state(request).slots
        )
    except RekognitionError:
        raise
    except Exception as exc:  # already audited as an internal error; the page must still answer
        log.exception("console: operation %s failed (request %s)", name, ctx.request_id)
        raise InternalServerError(f"Internal error; request id {ctx.request_id}.") from exc


async def run_console_read(
    user: ConsoleUser,
    name: str,
    purpose: str | None,
    run: Callable[[], dict[str, Any]],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A console read that is no Rekognition operation (the audit log, the transparency report):
    an extension operation of the governance catalog, admitted and audited the same way."""
    return await anyio.to_thread.run_sync(governed, user.context(purpose), name, body or {}, run)
