"""Client side: send the purpose of requests in the `X-Oversight-Purpose` header.

boto3:   `attach_purpose(client, "case 2026-17")`
AWS CLI: `[plugins] oversight = oversight.governance.purpose` in the CLI's config file, then
         `OVERSIGHT_PURPOSE="case 2026-17" aws rekognition ...` (see README).
"""

from __future__ import annotations

import os
from typing import Any

HEADER = "X-Oversight-Purpose"
ENV_VAR = "OVERSIGHT_PURPOSE"
# botocore emits this before signing every Rekognition request; the header is then signed too.
EVENT = "before-sign.rekognition.*"


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
