"""The web console: server-rendered pages under /console, for people holding an access key.

`console_routes(data_dir)` are the routes `api.app.create_app` adds. A user logs in with an access
key id and its secret access key (the pair boto3 signs with); each face operation then runs as
an API request signed by that key would: validated, admitted by the key's policy with the stated
purpose, and written to the audit log (`calls.run_operation`).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from . import review
from .pages import MAX_FORM_BYTES
from .routes import ROUTES
from .session import session_middleware

PATH = "/console"
# A backstop for bodies that do not declare their length (read_form refuses a declared length
# over MAX_FORM_BYTES with a page); the login form is read before anyone is known.
_MAX_BODY_BYTES = 2 * MAX_FORM_BYTES


async def _to_overview(request: Request) -> Response:
    return RedirectResponse(f"{request.scope.get('root_path', '')}{PATH}/", status_code=308)


def console_routes(data_dir: Path) -> list[BaseRoute]:
    """The console under /console, and /console itself redirecting to it. Redirects are relative
    paths (Starlette's trailing-slash redirects are off: they name the Host header's host)."""
    return [
        Route(PATH, _to_overview, methods=["GET"]),
        Mount(
            PATH,
            app=Router(routes=ROUTES + review.ROUTES, redirect_slashes=False),
            name="console",
            middleware=[session_middleware(data_dir, PATH)],
            max_body_size=_MAX_BODY_BYTES,
        ),
    ]
