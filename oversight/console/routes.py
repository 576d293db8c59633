"""The console's pages. Everything that touches faces runs a Rekognition operation through
`calls.run_operation` (validated, policy-gated, audited under the user's key and purpose); reads
that are no Rekognition operation go through the same governed call as extension operations of
the governance catalog (`calls.run_console_read`): ReadAuditLog (the account's recent records and
head, on the overview and accountability pages), VerifyAuditLog, GetTransparencyReport, and
GetStreamProcessorEvents (the event stream, `api/events.py`). Each is refused by a policy that
does not allow it, and audited. A key holder sees only its own account's records and report.

Pages that only list (overview, collections, faces, stream processors) run under the session's
purpose, shown in the header; every form that acts on faces must state its own purpose, which
then becomes the session's purpose.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..api.events import open_event_stream
from ..api.keys import AccessKey, KeyStore
from ..errors import InvalidParameterException, RekognitionError, UnrecognizedClientException
from ..governance.audit import GENESIS, AuditLog, Head
from ..governance.catalog import audited
from ..governance.report import account_verdict, build_report, parse_bound
from ..governance.report_render import RENDERERS
from ..images import MAX_INLINE_BYTES
from .actions import run_console_read, run_operation, server_state
from .overlay import BOXES, display_image
from .pages import (
    checked_form,
    form_text,
    page,
    parse_purpose,
    path_for,
    read_form,
    redirect,
    render,
    required_purpose,
)
from .session import (
    ConsoleUser,
    check_login,
    current_user,
    log_in,
    log_out,
    session_purpose,
    set_purpose,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# The login form is read before anyone is known: a key id, a secret, a purpose, a CSRF token.
_LOGIN_FORM_BYTES = 16 * 1024
_FACES_PER_PAGE = 50
# The overview and collections pages describe (and so audit) at most this many collections.
_DESCRIBED_COLLECTIONS = 20
_RECENT_RECORDS = 50
ANALYSES = ("DetectFaces", "DetectLabels", "DetectText", "SearchFacesByImage")
_REPORT_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


async def _attempt(call: Awaitable[T]) -> tuple[T | None, RekognitionError | None]:
    """The result or the error, for pages that show one section's refusal beside the others."""
    try:
        return await call, None
    except RekognitionError as error:
        return None, error


# -- login -------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    if await current_user(request, server_state(request).keys) is not None:
        return redirect(request, "console:overview")
    return render(request, "login.html", None)


async def login(request: Request) -> Response:
    state = server_state(request)
    remote = request.client.host if request.client else ""
    try:
        form = await checked_form(request)
        purpose = parse_purpose(form_text(form, "purpose"))
        # Failed logins count with the API's failed signatures, per address.
        with state.auth_failures.attempt(remote):
            key = await _check_login(state.keys, form)
    except RekognitionError as error:
        return render(request, "login.html", None, status=error.status, error=error)
    log_in(request, key, purpose)
    return redirect(request, "console:overview")


async def _check_login(keys: KeyStore, form: FormData) -> AccessKey:
    key_id = form_text(form, "access_key_id")
    secret = form.get("secret_access_key")
    key = await anyio.to_thread.run_sync(
        check_login, keys, key_id, secret if isinstance(secret, str) else ""
    )
    if key is None:
        log.warning("console: login refused for access key id %r", key_id[:128])
        raise UnrecognizedClientException(
            "Wrong access key id or secret access key, or the key has been revoked."
        )
    return key


@page
async def logout(request: Request, user: ConsoleUser) -> Response:
    log_out(request)
    return redirect(request, "console:login")


@page
async def purpose(request: Request, user: ConsoleUser) -> Response:
    set_purpose(request, parse_purpose(form_text(await read_form(request), "purpose")))
    return redirect(request, "console:overview")


# -- overview and collections -------------------------------------------------------------------
@dataclass(frozen=True)
class CollectionSummary:
    collection_id: str
    described: dict[str, Any] | None
    error: RekognitionError | None


@dataclass(frozen=True)
class Collections:
    summaries: list[CollectionSummary]
    total: int
    more: bool  # ListCollections had another page


async def _collections(request: Request, user: ConsoleUser, purpose: str | None) -> Collections:
    listed = await run_operation(request, user, "ListCollections", {}, purpose)
    ids = listed.get("CollectionIds", [])
    summaries = []
    for collection_id in ids[:_DESCRIBED_COLLECTIONS]:
        # One collection the key's policy does not allow must not hide the others.
        described, error = await _attempt(
            run_operation(
                request, user, "DescribeCollection", {"CollectionId": collection_id}, purpose
            )
        )
        summaries.append(CollectionSummary(collection_id, described, error))
    return Collections(summaries, len(ids), "NextToken" in listed)


def _audit_tail(account_id: str, limit: int) -> dict[str, Any]:
    """ReadAuditLog: the account's last `limit` audit records, newest first, and the account's
    head (its last record); never another tenant's."""
    recent: deque[dict[str, Any]] = deque(maxlen=limit)
    head = Head(0, GENESIS)
    for record in AuditLog().records(skip_unreadable=True):
        if record.get("account") == account_id:
            recent.append(record)
            head = Head(record["seq"], record["hash"])
    return {"Records": list(reversed(recent)), "Head": head.to_json()}


async def _read_audit_log(user: ConsoleUser, limit: int, purpose: str | None) -> dict[str, Any]:
    return await run_console_read(
        user, "ReadAuditLog", purpose, lambda: _audit_tail(user.account_id, limit)
    )


@page
async def overview(request: Request, user: ConsoleUser) -> Response:
    state, purpose = server_state(request), session_purpose(request)
    collections, collections_error = await _attempt(_collections(request, user, purpose))
    processors, processors_error = await _attempt(
        run_operation(request, user, "ListStreamProcessors", {}, purpose)
    )
    audit_log, audit_error = await _attempt(_read_audit_log(user, 10, purpose))
    return render(
        request,
        "overview.html",
        user,
        collections=collections,
        collections_error=collections_error,
        processors=processors,
        processors_error=processors_error,
        audit_log=audit_log,
        audit_error=audit_error,
        busy=state.slots.borrowed_tokens,
        slots=state.slots.total_tokens,
    )


@page
async def collections(request: Request, user: ConsoleUser) -> Response:
    found = await _collections(request, user, session_purpose(request))
    return render(request, "collections.html", user, collections=found)


@page
async def faces(request: Request, user: ConsoleUser) -> Response:
    collection_id = request.path_params["collection_id"]
    body: dict[str, Any] = {"CollectionId": collection_id, "MaxResults": _FACES_PER_PAGE}
    if token := request.query_params.get("next"):
        body["NextToken"] = token
    listed = await run_operation(request, user, "ListFaces", body, session_purpose(request))
    return render(
        request,
        "faces.html",
        user,
        collection_id=collection_id,
        faces=listed.get("Faces", []),
        next_token=listed.get("NextToken"),
    )


@page
async def delete_faces(request: Request, user: ConsoleUser) -> Response:
    form = await read_form(request)
    purpose = required_purpose(form)
    face_ids = [value for value in form.getlist("face_id") if isinstance(value, str)]
    if not face_ids:
        raise InvalidParameterException("Select at least one face to delete.")
    set_purpose(request, purpose)
    collection_id = request.path_params["collection_id"]
    response = await run_operation(
        request, user, "DeleteFaces", {"CollectionId": collection_id, "FaceIds": face_ids}, purpose
    )
    return render(
        request,
        "result.html",
        user,
        operation="DeleteFaces",
        response=response,
        back=path_for(request, "console:faces", collection_id=collection_id),
    )


# -- analyse an image ---------------------------------------------------------------------------
@page
async def analyse_form(request: Request, user: ConsoleUser) -> Response:
    listed, error = await _attempt(
        run_operation(request, user, "ListCollections", {}, session_purpose(request))
    )
    return render(
        request,
        "analyse.html",
        user,
        analyses=ANALYSES,
        collection_ids=(listed or {}).get("CollectionIds", []),
        collections_error=error,
    )


def _number(form: FormData, name: str, kind: type[float] | type[int]) -> float | int:
    try:
        return kind(form_text(form, name))
    except ValueError as exc:
        raise InvalidParameterException(f"{name} must be a number.") from exc


async def _upload(form: FormData) -> bytes:
    upload = form.get("image")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidParameterException("Choose a JPEG or PNG image to analyse.")
    # One byte more than allowed, so that an oversized image is refused for its size.
    return await upload.read(MAX_INLINE_BYTES + 1)


@page
async def analyse(request: Request, user: ConsoleUser) -> Response:
    form = await read_form(request)
    operation = form_text(form, "operation")
    if operation not in ANALYSES:
        raise InvalidParameterException(f"Choose one of {', '.join(ANALYSES)}.")
    recorded = audited(operation)
    purpose = required_purpose(form) if recorded else parse_purpose(form_text(form, "purpose"))
    data = await _upload(form)
    body: dict[str, Any] = {"Image": {"Bytes": data}}
    if operation == "SearchFacesByImage":
        body.update(
            {
                "CollectionId": form_text(form, "collection"),
                "FaceMatchThreshold": _number(form, "threshold", float),
                "MaxFaces": _number(form, "max_faces", int),
            }
        )
    if purpose is not None:
        set_purpose(request, purpose)
    response, error = await _attempt(run_operation(request, user, operation, body, purpose))
    image = None if response is None else await anyio.to_thread.run_sync(display_image, data)
    return render(
        request,
        "analysed.html",
        user,
        status=error.status if error else 200,
        error=error,
        operation=operation,
        audited=recorded,
        response=response,
        image=image,
        boxes=BOXES[operation](response) if response is not None else [],
    )


# -- stream processors --------------------------------------------------------------------------
@page
async def streams(request: Request, user: ConsoleUser) -> Response:
    listed = await run_operation(
        request, user, "ListStreamProcessors", {}, session_purpose(request)
    )
    return render(
        request,
        "streams.html",
        user,
        processors=listed.get("StreamProcessors", []),
        more="NextToken" in listed,
    )


async def _start_or_stop(request: Request, user: ConsoleUser, operation: str) -> Response:
    purpose = required_purpose(await read_form(request))
    set_purpose(request, purpose)
    name = request.path_params["name"]
    response = await run_operation(request, user, operation, {"Name": name}, purpose)
    return render(
        request,
        "result.html",
        user,
        operation=operation,
        response=response,
        back=path_for(request, "console:stream", name=name),
    )


@page
async def start_stream(request: Request, user: ConsoleUser) -> Response:
    return await _start_or_stop(request, user, "StartStreamProcessor")


@page
async def stop_stream(request: Request, user: ConsoleUser) -> Response:
    return await _start_or_stop(request, user, "StopStreamProcessor")


@page
async def stream(request: Request, user: ConsoleUser) -> Response:
    name = request.path_params["name"]
    described = await run_operation(
        request, user, "DescribeStreamProcessor", {"Name": name}, session_purpose(request)
    )
    return render(request, "stream.html", user, name=name, described=described)


@page
async def stream_events(request: Request, user: ConsoleUser) -> Response:
    """GetStreamProcessorEvents for a console session: the API's governed SSE stream, under the
    session's key and purpose (it ends when the key is revoked or its policy changes)."""
    state = server_state(request)
    stream = await anyio.to_thread.run_sync(
        open_event_stream,
        user.context(session_purpose(request)),
        request.path_params["name"],
        state.streams,
    )
    return StreamingResponse(
        stream.events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


# -- accountability -----------------------------------------------------------------------------
async def _accountability(request: Request, user: ConsoleUser, **context: Any) -> Response:
    audit_log, audit_error = await _attempt(
        _read_audit_log(user, _RECENT_RECORDS, session_purpose(request))
    )
    return render(
        request,
        "accountability.html",
        user,
        audit_log=audit_log,
        audit_error=audit_error,
        formats=list(_REPORT_TYPES),
        **context,
    )


@page
async def accountability(request: Request, user: ConsoleUser) -> Response:
    return await _accountability(request, user, verdict=None)


@page
async def verify(request: Request, user: ConsoleUser) -> Response:
    """VerifyAuditLog: the whole chain is walked; the page tells the account only whether it
    verifies and its own records and head."""
    verdict = await run_console_read(
        user, "VerifyAuditLog", session_purpose(request),
        lambda: account_verdict(AuditLog(), user.account_id),
    )
    return await _accountability(request, user, verdict=verdict)


@page
async def report(request: Request, user: ConsoleUser) -> Response:
    """The transparency report (`oversight report`) for the period asked, as a page or a file."""
    params = request.query_params
    kind = params.get("format", "html")
    try:
        start = parse_bound(params.get("from", ""))
        end = parse_bound(params.get("to", ""), end=True)
    except ValueError as exc:
        raise InvalidParameterException(f"From and to must be ISO dates: {exc}") from exc
    if kind not in _REPORT_TYPES:
        raise InvalidParameterException(f"The format must be one of {', '.join(_REPORT_TYPES)}.")
    built = await run_console_read(
        user, "GetTransparencyReport", session_purpose(request),
        lambda: build_report(start, end, account_id=user.account_id),
        {"From": start.isoformat(), "To": end.isoformat()},
    )
    text = RENDERERS[kind](built)
    headers = {
        "Cache-Control": "no-store",
        # The HTML report is self-contained: its own style sheet and SVG, no script.
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    if kind != "html":
        headers["Content-Disposition"] = f'attachment; filename="transparency-report.{kind}"'
    return Response(text, media_type=_REPORT_TYPES[kind], headers=headers)


ROUTES = [
    Route("/", overview, name="overview"),
    Route("/login", login_page, name="login"),
    Route("/login", login, methods=["POST"], name="login_submit", max_body_size=_LOGIN_FORM_BYTES),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/purpose", purpose, methods=["POST"], name="purpose"),
    Route("/collections", collections, name="collections"),
    Route("/collections/{collection_id}", faces, name="faces"),
    Route(
        "/collections/{collection_id}/delete", delete_faces, methods=["POST"], name="delete_faces"
    ),
    Route("/analyse", analyse_form, name="analyse_form"),
    Route("/analyse", analyse, methods=["POST"], name="analyse"),
    Route("/stream-processors", streams, name="streams"),
    Route("/stream-processors/{name}", stream, name="stream"),
    Route("/stream-processors/{name}/start", start_stream, methods=["POST"], name="start_stream"),
    Route("/stream-processors/{name}/stop", stop_stream, methods=["POST"], name="stop_stream"),
    Route("/stream-processors/{name}/events", stream_events, name="stream_events"),
    Route("/accountability", accountability, name="accountability"),
    Route("/accountability/verify", verify, methods=["POST"], name="verify"),
    Route("/accountability/report", report, name="report"),
]
