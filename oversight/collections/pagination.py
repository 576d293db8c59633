"""Opaque NextTokens, bound to the listing they came from.

A token is the position to resume after (a store key or an offset) sealed with AES-GCM under a
key derived from the server's secret (`keyfiles.derived_key`). The listing's scope (what is
listed, the account, the resource, its filters) is the authenticated associated data: a token
only opens for the same scope, so another account's token, another collection's or a forged one
is an InvalidPaginationTokenException, and the position (a global counter for faces) is never
visible. 48 characters, well under AWS's 255.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import settings
from ..errors import InvalidPaginationTokenException
from ..keyfiles import derived_key

_NONCE_BYTES = 12
_POSITION_BYTES = 8


@lru_cache(maxsize=8)
def _cipher(data_dir: Path) -> AESGCM:
    return AESGCM(derived_key(data_dir, "pagination tokens"))


def _scope(scope: Sequence[str]) -> bytes:
    # NUL cannot occur in ids, so distinct scopes never join to the same bytes.
    return "\0".join(scope).encode()


def encode_token(scope: Sequence[str], after: int) -> str:
    """A token resuming listing `scope` (e.g. ("faces", account, collection uid)) after `after`."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(settings().data_dir).encrypt(
        nonce, after.to_bytes(_POSITION_BYTES, "big"), _scope(scope)
    )
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def decode_token(scope: Sequence[str], token: str | None) -> int:
    """The position after which the page starts (0 for the first page)."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        position = _cipher(settings().data_dir).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _scope(scope)
        )
    except (binascii.Error, UnicodeError, ValueError, InvalidTag) as exc:
        raise InvalidPaginationTokenException("Invalid pagination token") from exc
    return int.from_bytes(position, "big")
