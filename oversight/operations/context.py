"""Who is asking and why: what every operation handler receives besides its request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

LOCAL_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class RequestContext:
    account_id: str
    access_key_id: str | None = None
    purpose: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def local(cls) -> RequestContext:
        """The context of the local operator using the CLI or the Python API directly."""
        return cls(account_id=LOCAL_ACCOUNT)
