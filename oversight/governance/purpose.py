"""The purpose of a request, sent in the `X-Oversight-Purpose` header: what the server accepts
(`check_purpose`) and, client side, how to send it.

boto3:   `attach_purpose(client, "case 2026-17")`
AWS CLI: `[plugins] oversight = oversight.governance.purpose` in the CLI's config file, then
         `OVERSIGHT_PURPOSE="case 2026-17" aws rekognition ...` (see README).
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import InvalidParameterException

HEADER = "X-Oversight-Purpose"
MAX_PURPOSE_CHARS = 512
# Printable ASCII only: the purpose is shown in reports and pages and matched by policies, so no
# control character may forge a line and no look-alike letter may dodge a rule.
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
ENV_VAR = "OVERSIGHT_PURPOSE"
# botocore emits this before signing every Rekognition request; the header is then signed too.
EVENT = "before-sign.rekognition.*"


def check_purpose(purpose: str | None) -> str | None:
    """`purpose` when the server accepts it (printable ASCII, at most 512 characters), else
    InvalidParameterException."""
    if purpose is None:
        return None
    if len(purpose) > MAX_PURPOSE_CHARS:
        raise InvalidParameterException(
            f"The purpose ({HEADER}) is {len(purpose)} characters; at most {MAX_PURPOSE_CHARS} "
            "are allowed."
        )
    if _PRINTABLE_ASCII.fullmatch(purpose) is None:
        raise InvalidParameterException(
            f"The purpose ({HEADER}) must be printable ASCII (space to '~'): no control or "
            "non-ASCII character."
        )
    return purpose


def attach_purpose(client: Any, purpose: str) -> None:
    """Send `purpose` with every request `client` (a boto3 Rekognition client) makes."""

    def add_header(request: Any, **_: Any) -> None:
        request.headers[HEADER] = purpose

    client.meta.events.register(EVENT, add_header)


def awscli_initialize(cli: Any) -> None:
    """AWS CLI plugin entry point: send $OVERSIGHT_PURPOSE when it is set."""

    def add_header(request: Any, **_: Any) -> None:
        purpose = os.environ.get(ENV_VAR)
        if purpose:
            request.headers[HEADER] = purpose

    cli.register(EVENT, add_header)
