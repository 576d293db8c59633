"""The HTTP server: AWS JSON 1.1 on POST /, GET /stream-processors/{name}/events (Server-Sent
Events, api/events.py), GET /health and GET /metrics.

One request goes: size limit -> X-Amz-Target -> SigV4 -> JSON + model validation -> implemented?
-> [operation slot] the governed call (`gate.governed`: admit, handler, record) -> response. A
request refused before the gate is audited too (`governance/refusals.py`). Everything that
blocks (key lookup, decoding, inference, audit writes) runs in worker threads so the event loop
only moves bytes; at most `max_concurrent_inference` operations run at once and a request that
waits longer than `request_timeout_seconds` for a slot is throttled rather than queued forever.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import numpy as np
from botocore.model import OperationModel
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..analysis.embedding import EMBEDDING_MODEL, FACE_MODEL_VERSION
from ..config import Settings, settings
from ..console import console_routes
from ..errors import (
    InternalServerError,
    RekognitionError,
    ThrottlingException,
    UnknownOperationException,
    UnsupportedOperationException,
)
from ..governance import gate
from ..governance.calibration_log import watch_calibrations
from ..governance.catalog import EVENTS_OPERATION
from ..governance.ratelimit import FailureThrottle
from ..governance.refusals import Refusal, refusal_log
from ..governance.retention import start_sweeper
from ..operations import Handler, RequestContext, registry
from ..operations.unsupported import unsupported_reasons
from ..review.withhold import CASE_HEADER, CASE_MEMBER
from ..video.runtime import start_video_services, stop_video_services
from .auth import Principal, SignedRequest, authenticate, request_headers
from .events import StreamSlots, open_event_stream
from .intake import UnauthenticatedBytes, body_limit, unauthenticated_body
from .keys import KeyStore
from .notices import notice_headers
from .observability import IN_FLIGHT, WAITING, AccessRecord, configure_access_log, finish
from .service_model import TARGET_PREFIX, operation_model
from .validation import parse_body, validate_request
from .warmup import start_warm_up, warm_status

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
PURPOSE_HEADER = "x-oversight-purpose"
log = logging.getLogger(__name__)


class _State:
    """What the server builds once at startup."""

    def __init__(self, config: Settings, keys: KeyStore) -> None:
        self.config = config
        self.keys = keys
        self.slots = anyio.CapacityLimiter(config.max_concurrent_inference)
        self.unauthenticated = UnauthenticatedBytes(config.max_unauthenticated_bytes)
        self.auth_failures = FailureThrottle(config.auth_failures_per_minute)
        self.streams = StreamSlots(
            config.max_event_streams_per_key, config.event_stream_recheck_seconds
        )


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()  # JSON 1.1 timestamps are epoch seconds
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _error_response(error: RekognitionError, request_id: str) -> Response:
    return JSONResponse(
        {"__type": error.code, "Message": error.message},
        status_code=error.status,
        media_type=JSON_CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code},
    )


def _target_operation(headers: dict[str, str]) -> OperationModel:
    target = headers.get("x-amz-target", "")
    model = operation_model(target.removeprefix(TARGET_PREFIX))
    if not target.startswith(TARGET_PREFIX) or model is None:
        raise UnknownOperationException(f"Unknown operation: X-Amz-Target {target[:200]!r}.")
    return model


def _handler_for(name: str) -> Handler:
    handler = registry().get(name)
    if handler is None:
        reason = unsupported_reasons().get(name, "not implemented yet")
        raise UnsupportedOperationException(
            f"Oversight does not support {name}: {reason}. See docs/API.md."
        )
    return handler


def _authenticate(state: _State, request: Request, body: bytes) -> Principal:
    headers = request_headers(request.scope["headers"])
    signed = SignedRequest(
        method=request.method,
        host=headers.get("host", ""),
        raw_path=request.scope.get("raw_path", b"/").decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )
    remote = request.client.host if request.client else ""
    with state.auth_failures.attempt(remote):
        return authenticate(
            signed,
            state.keys,
            now=datetime.now(UTC),
            max_skew=timedelta(seconds=state.config.max_clock_skew_seconds),
            regions=state.config.regions,
        )


def _run(
    handler: Handler, ctx: RequestContext, name: str, request: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    """The governed call (admit, run, record: `governance.gate.governed`), as JSON, and the
    headers it adds (the review case holding withheld matches)."""
    response = gate.governed(ctx, name, request, lambda: handler(request, ctx))
    headers = {CASE_HEADER: response[CASE_MEMBER]} if CASE_MEMBER in response else {}
    return json.dumps(response, default=_json_default).encode(), headers


async def _call_operation(
    state: _State, handler: Handler, ctx: RequestContext, name: str, request: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    acquired = False
    WAITING.inc()
    try:
        with anyio.move_on_after(state.config.request_timeout_seconds):
            await state.slots.acquire()
            acquired = True
    finally:
        WAITING.dec()
    if not acquired:
        raise ThrottlingException("Too many concurrent requests; retry later.")
    try:
        return await anyio.to_thread.run_sync(_run, handler, ctx, name, request)
    finally:
        state.slots.release()


async def rekognition(request: Request) -> Response:
    state: _State = request.app.state.oversight
    record = AccessRecord(
        request_id=str(uuid.uuid4()),
        remote=request.client.host if request.client else "",
        started=time.perf_counter(),
    )
    IN_FLIGHT.inc()
    try:
        response = await _dispatch(state, request, record)
    except RekognitionError as error:
        record.status, record.error = error.status, error.code
        response = _error_response(error, record.request_id)
    except ClientDisconnect:
        # Nobody is left to answer; 499 is what the access log calls it (nginx's convention).
        record.status, record.error = 499, "ClientDisconnect"
        response = Response(status_code=499)
    finally:
        IN_FLIGHT.dec()
    record.bytes_out = int(response.headers.get("content-length", 0))
    finish(record)
    return response


async def _dispatch(state: _State, request: Request, record: AccessRecord) -> Response:
    try:
        handler, ctx, validated = await _admit_request(state, request, record)
    except RekognitionError as error:
        await _record_refusal(request, record, error)
        raise
    payload, headers = await _call_operation(state, handler, ctx, record.operation, validated)
    return Response(
        payload,
        media_type=JSON_CONTENT_TYPE,
        headers={"x-amzn-RequestId": record.request_id,
                 **notice_headers(record.operation, validated), **headers},
    )


async def _record_refusal(request: Request, record: AccessRecord, error: RekognitionError) -> None:
    """A request refused before the gate is audited too (flood-controlled when
    unauthenticated); the gate audits its own refusals."""
    await anyio.to_thread.run_sync(refusal_log.record, Refusal(
        request_id=record.request_id,
        remote=record.remote,
        operation=None if record.operation == "-" else record.operation,
        error=error,
        access_key_id=record.access_key_id or None,
        account_id=record.account_id or None,
        purpose=_header(request, PURPOSE_HEADER) if record.access_key_id else None,
        authorization=_header(request, "authorization"),
    ))


def _header(request: Request, name: str) -> str:
    """A header's first value, for the record of a refused request only (dispatch reads
    `request_headers`, which refuses repeats)."""
    return request.headers.get(name, "")


async def _admit_request(
    state: _State, request: Request, record: AccessRecord
) -> tuple[Handler, RequestContext, dict[str, Any]]:
    """Everything before the gate: target, body, signature, validation, handler."""
    # Dispatch and audit read the very header values the signature covers (no repeats).
    headers = request_headers(request.scope["headers"])
    model = _target_operation(headers)
    name = record.operation = model.name
    config = state.config
    limit = min(body_limit(model), config.max_request_bytes)
    async with unauthenticated_body(
        request, model, limit, state.unauthenticated, config.body_timeout_seconds
    ) as body:
        record.bytes_in = len(body)
        principal = await anyio.to_thread.run_sync(_authenticate, state, request, body)
    record.access_key_id, record.account_id = principal.access_key_id, principal.account_id
    validated = await anyio.to_thread.run_sync(validate_request, model, parse_body(body))
    handler = _handler_for(name)
    ctx = RequestContext(
        account_id=principal.account_id,
        access_key_id=principal.access_key_id,
        purpose=headers.get(PURPOSE_HEADER),
        request_id=record.request_id,
    )
    return handler, ctx, validated


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "FaceModelVersion": FACE_MODEL_VERSION,
                         "EmbeddingModel": EMBEDDING_MODEL, "Models": warm_status()})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def stream_processor_events(request: Request) -> Response:
    """GetStreamProcessorEvents: Server-Sent Events of a stream processor's matches (a SigV4-signed
    GET, empty body), governed and audited like any operation (api/events.py)."""
    state: _State = request.app.state.oversight
    request_id = str(uuid.uuid4())
    record = AccessRecord(request_id=request_id, operation=EVENTS_OPERATION,
                          remote=request.client.host if request.client else "",
                          started=time.perf_counter())
    try:
        principal = await anyio.to_thread.run_sync(_authenticate, state, request, b"")
    except RekognitionError as error:  # before the gate: recorded as _dispatch records it
        await _record_refusal(request, record, error)
        return _error_response(error, request_id)
    try:
        ctx = RequestContext(
            account_id=principal.account_id,
            access_key_id=principal.access_key_id,
            purpose=request_headers(request.scope["headers"]).get(PURPOSE_HEADER),
            request_id=request_id,
        )
        stream = await anyio.to_thread.run_sync(
            open_event_stream, ctx, request.path_params["name"], state.streams
        )
    except RekognitionError as error:
        return _error_response(error, request_id)
    return StreamingResponse(stream.events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "x-amzn-RequestId": request_id})


async def not_found(request: Request, exc: Exception) -> Response:
    error = UnknownOperationException(
        f"{request.method} {request.url.path} is not an endpoint: send AWS JSON 1.1 to POST /."
    )
    response = _error_response(error, str(uuid.uuid4()))
    response.status_code = 404
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    # Reached only through a bug outside an operation (those are answered in `_run`).
    return _error_response(InternalServerError("Internal error."), str(uuid.uuid4()))


def create_app(keys: KeyStore | None = None, config: Settings | None = None) -> Starlette:
    """The ASGI application; `keys` and `config` default to the configured data directory."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        configure_access_log()
        resolved = config or settings()
        store = keys or await anyio.to_thread.run_sync(KeyStore.default)
        await anyio.to_thread.run_sync(registry)  # import handler modules before the first call
        watch_calibrations()  # a deployment calibration this process loads is audited
        # Resume video jobs and stream processors a previous server left unfinished.
        await anyio.to_thread.run_sync(start_video_services)
        # Faces older than their collection's retention period are deleted while serving.
        stop_retention = start_sweeper()
        if resolved.warm_start:
            start_warm_up()
        app.state.oversight = _State(resolved, store)
        yield
        await anyio.to_thread.run_sync(stop_retention)
        await anyio.to_thread.run_sync(refusal_log.flush)
        await anyio.to_thread.run_sync(stop_video_services)

    app = Starlette(
        routes=[
            Route("/", rekognition, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/stream-processors/{name}/events", stream_processor_events, methods=["GET"]),
            *console_routes((config or settings()).data_dir),
        ],
        exception_handlers={  # type: ignore[dict-item]
            404: not_found,
            405: not_found,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    # Trailing-slash redirects would be absolute URLs naming whatever host the client sent.
    app.router.redirect_slashes = False
    return app

