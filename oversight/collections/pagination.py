"""Opaque NextTokens: a listing kind and the last key seen, so a page resumes where it stopped.

Keys are the store's integer primary keys (insertion order), which keeps tokens short (AWS caps
them at 255 characters) and stable while items are added or removed between pages.
"""

from __future__ import annotations

import base64
import binascii

from ..errors import InvalidPaginationTokenException


def encode_token(kind: str, after: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{after}".encode()).decode()


def decode_token(kind: str, token: str | None) -> int:
    """The key after which the page starts (0 for the first page)."""
    if not token:
        return 0
    try:
        token_kind, after = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        value = int(after)
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidPaginationTokenException("Invalid pagination token") from exc
    # Keys are signed 64-bit integers in every store; a larger number would overflow the query.
    if token_kind != kind or not 0 <= value < 2**63:
        raise InvalidPaginationTokenException("Invalid pagination token")
    return value
