"""Rendering console pages, and the wrapper every logged-in endpoint goes through."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from starlette.datastructures import URL, FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ..errors import (
    CsrfRefused,
    ImageTooLargeException,
    InvalidParameterException,
    RekognitionError,
)
from ..governance.purpose import check_purpose
from ..images import MAX_INLINE_BYTES
from .actions import server_state
from .session import ConsoleUser, csrf_ok, csrf_token, current_user, session_purpose

TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
    )
)
TEMPLATES.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, default=str)


def path_for(request: Request, route: str, /, **params: Any) -> URL:
    """A route's path, never an absolute URL: the Host header is the client's to choose, so
    links and redirects built from it could send a user (and their session) elsewhere."""
    return URL(request.url_for(route, **params).path)


@jinja2.pass_context
def _template_path_for(context: dict[str, Any], route: str, /, **params: Any) -> URL:
    return path_for(context["request"], route, **params)


# Templates call url_for(...); Starlette's own would make absolute URLs from the Host header.
TEMPLATES.env.globals["url_for"] = _template_path_for

# Form fields other than the image are small; a page never has more than a few dozen.
_MAX_FIELDS = 200
_MAX_FIELD_BYTES = 64 * 1024
# An image at Rekognition's inline limit plus the form's other fields.
MAX_FORM_BYTES = MAX_INLINE_BYTES + 256 * 1024

Endpoint = Callable[[Request], Awaitable[Response]]
UserEndpoint = Callable[[Request, ConsoleUser], Awaitable[Response]]


def render(
    request: Request, template: str, user: ConsoleUser | None, status: int = 200, **context: Any
) -> Response:
    """A page; `context` may carry `error` (a RekognitionError) to show above the content."""
    nonce = secrets.token_urlsafe(16)
    context.setdefault("error", None)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf": csrf_token(request),
            "purpose": session_purpose(request),
            "nonce": nonce,
            **context,
        },
        status_code=status,
    )
    # Only this page's own inline style and script run; images are the data: URLs it embeds.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )
    # Pages show faces and match results: no shared or browser cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def redirect(request: Request, route: str, /, **params: str) -> Response:
    return RedirectResponse(path_for(request, route, **params), status_code=303)


async def read_form(request: Request) -> FormData:
    """The posted form (cached by Starlette, so the CSRF check and the handler share it)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise ImageTooLargeException(
            f"The form is {declared} bytes; at most {MAX_FORM_BYTES} are accepted (an image may "
            f"be {MAX_INLINE_BYTES} bytes, Rekognition's inline limit)."
        )
    try:
        return await request.form(
            max_files=1, max_fields=_MAX_FIELDS, max_part_size=_MAX_FIELD_BYTES
        )
    except HTTPException as exc:
        raise InvalidParameterException(f"The form could not be read: {exc.detail}") from exc


async def checked_form(request: Request) -> FormData:
    """The posted form, refused unless it carries this session's CSRF token."""
    form = await read_form(request)
    if not csrf_ok(request, form):
        raise CsrfRefused(
            "The form's CSRF token is missing or stale: reload the page and send it again."
        )
    return form


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_purpose(text: str) -> str | None:
    """A stated purpose as the gate receives it from X-Oversight-Purpose (None when blank)."""
    return check_purpose(text) if text else None


def required_purpose(form: FormData) -> str:
    """The purpose a face-operation form must state; refused before any operation runs."""
    purpose = parse_purpose(form_text(form, "purpose"))
    if purpose is None:
        raise InvalidParameterException(
            "State the purpose of this face operation (a case number, say): it is written to "
            "the audit log with the request."
        )
    return purpose


def page(handler: UserEndpoint) -> Endpoint:
    """A logged-in endpoint: no session (or a revoked key) redirects to the login page, a POST
    needs the session's CSRF token, and a Rekognition error is shown with its code."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        user = await current_user(request, server_state(request).keys)
        if user is None:
            return redirect(request, "console:login")
        try:
            if request.method == "POST":
                await checked_form(request)
            return await handler(request, user)
        except RekognitionError as error:
            return render(request, "error.html", user, status=error.status, error=error)

    return endpoint
