"""Who is logged in to the console: access-key login, the signed session cookie, CSRF tokens.

The session cookie (Starlette's SessionMiddleware, signed with itsdangerous) holds only the access
key id, a CSRF token and the purpose the user is working under; never a secret. The key is looked
up again on every request, so revoking it ends every console session at the next click.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from ..api.keys import AccessKey, KeyStore
from ..keyfiles import secret_file
from ..operations.context import RequestContext

SECRET_FILE = "console-session.key"
COOKIE = "oversight_console"
# A session lasts this long after its last change (login, purpose); then the user logs in again.
SESSION_SECONDS = 8 * 60 * 60
CSRF_FIELD = "csrf_token"
_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
# Compared against when the key id is unknown, so a wrong id takes as long as a wrong secret.
_NO_SECRET = "x" * 40


def session_middleware(data_dir: Path, path: str) -> Middleware:
    """Signed-cookie sessions for the routes under `path` only (HttpOnly, SameSite=Strict); the
    signing secret is made once and kept in `<data dir>/console-session.key` (mode 0600)."""
    secret = secret_file(data_dir / SECRET_FILE, lambda: secrets.token_urlsafe(48).encode())
    return Middleware(
        SessionMiddleware,
        secret_key=secret.decode(),
        session_cookie=COOKIE,
        max_age=SESSION_SECONDS,
        path=path,
        same_site="strict",
    )


@dataclass(frozen=True)
class ConsoleUser:
    access_key_id: str
    account_id: str

    def context(self, purpose: str | None) -> RequestContext:
        """The context an API request signed by this key with this purpose header would get."""
        return RequestContext(
            account_id=self.account_id, access_key_id=self.access_key_id, purpose=purpose
        )


def check_login(keys: KeyStore, access_key_id: str, secret: str) -> AccessKey | None:
    """The active key when `secret` is its secret access key (compared in constant time)."""
    found = keys.active_secret(access_key_id) if _KEY_ID.fullmatch(access_key_id) else None
    expected = found[1] if found else _NO_SECRET
    matches = hmac.compare_digest(expected.encode(), secret.encode())
    return found[0] if found is not None and matches else None


def log_in(request: Request, key: AccessKey, purpose: str | None) -> None:
    # A fresh session (and CSRF token) at login: nothing chosen before it carries over.
    request.session.clear()
    request.session.update(
        {"key": key.access_key_id, "csrf": secrets.token_urlsafe(32), "purpose": purpose}
    )


def log_out(request: Request) -> None:
    request.session.clear()


async def current_user(request: Request, keys: KeyStore) -> ConsoleUser | None:
    """The logged-in user, or None (no session, or its key was revoked since)."""
    access_key_id = request.session.get("key")
    if not isinstance(access_key_id, str):
        return None
    found = await anyio.to_thread.run_sync(keys.active_secret, access_key_id)
    if found is None:
        log_out(request)
        return None
    return ConsoleUser(access_key_id=access_key_id, account_id=found[0].account_id)


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use (the login form needs one before login)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, form: Any) -> bool:
    expected = request.session.get("csrf")
    sent = form.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )


def session_purpose(request: Request) -> str | None:
    purpose = request.session.get("purpose")
    return purpose if isinstance(purpose, str) and purpose else None


def set_purpose(request: Request, purpose: str | None) -> None:
    request.session["purpose"] = purpose
