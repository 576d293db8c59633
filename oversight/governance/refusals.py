"""Audit records of requests refused before the gate: unknown operation, oversized or malformed
body, bad or missing signature, unknown or revoked key, invalid parameters, unsupported operation.

A request whose signature verified is the key holder's act: each refusal gets its own `refused`
record, like any audited request. An unauthenticated one could come from anyone, as fast as they
can send; recording each would let a stranger fill the disk and spend one fsync per junk request.
So per window of `WINDOW_SECONDS` the first `PER_REMOTE` refusals of each client address, and at
most `UNAUTHENTICATED_CAP` in all, are recorded one by one; the rest are counted and written as
one `refused_summary` record (counts by address and error code) when the window has passed (at
the next refusal, or when the server stops). A refusal whose record cannot be written is still
answered with its own error: nothing ran, so there is nothing to fail closed on.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..errors import RekognitionError
from . import audit
from .records import now_iso

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
PER_REMOTE = 5
UNAUTHENTICATED_CAP = 100
# A summary names at most this many addresses; the others are counted together.
SUMMARY_REMOTES = 50
_MESSAGE_CHARS = 300
_CLAIMED_KEY = re.compile(r"Credential=([A-Z0-9]{16,128})/")


@dataclass(frozen=True)
class Refusal:
    """What is known of a request refused before the gate. `access_key_id` and `account_id` are
    set only when its signature verified; `operation` only when it names a known one."""

    request_id: str
    remote: str
    operation: str | None
    error: RekognitionError
    access_key_id: str | None = None
    account_id: str | None = None
    purpose: str | None = None
    # The Authorization header, for the key it claims (unverified).
    authorization: str = ""


@dataclass
class _Window:
    started: float
    opened_at: str = field(default_factory=now_iso)
    written: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)


class RefusalLog:
    """Writes refusal records with the flood control above; one per process."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._window = _Window(clock())

    def record(self, refusal: Refusal) -> None:
        try:
            for fields in self._records_for(refusal):
                audit.write(fields)
        except RekognitionError:
            log.exception("the refusal of request %s could not be audited", refusal.request_id)

    def flush(self) -> None:
        """Write the pending summary now (the server calls this when it stops)."""
        with self._lock:
            summary = self._rotate()
        if summary is not None:
            try:
                audit.write(summary)
            except RekognitionError:
                log.exception("the summary of refused requests could not be audited")

    def _records_for(self, refusal: Refusal) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            if self._clock() - self._window.started >= WINDOW_SECONDS:
                summary = self._rotate()
                if summary is not None:
                    out.append(summary)
            if refusal.access_key_id is None:
                window = self._window
                if (window.written[refusal.remote] >= PER_REMOTE
                        or window.written.total() >= UNAUTHENTICATED_CAP):
                    window.suppressed[(refusal.remote, refusal.error.code)] += 1
                    return out
                window.written[refusal.remote] += 1
            out.append(_fields(refusal))
            return out

    def _rotate(self) -> dict[str, Any] | None:
        """Start a new window; the summary of the old one if it suppressed anything."""
        old, self._window = self._window, _Window(self._clock())
        if not old.suppressed:
            return None
        by_remote: dict[str, Counter[str]] = {}
        for (remote, code), count in old.suppressed.most_common():
            if remote not in by_remote and len(by_remote) >= SUMMARY_REMOTES:
                remote = "other"
            by_remote.setdefault(remote, Counter())[code] += count
        return {
            "time": now_iso(),
            "kind": "refused_summary",
            "from": old.opened_at,
            "to": now_iso(),
            "count": old.suppressed.total(),
            "by_remote": {remote: dict(codes) for remote, codes in by_remote.items()},
        }


def _fields(refusal: Refusal) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": now_iso(),
        "kind": "refused",
        "account": refusal.account_id,
        "key": refusal.access_key_id,
        "purpose": refusal.purpose[:_MESSAGE_CHARS] if refusal.purpose else None,
        "request_id": refusal.request_id,
        "remote": refusal.remote,
        "operation": refusal.operation,
        "outcome": refusal.error.code,
        "error": refusal.error.message[:_MESSAGE_CHARS],
    }
    if refusal.access_key_id is None:
        claimed = _CLAIMED_KEY.search(refusal.authorization)
        fields["claimed_key"] = claimed.group(1) if claimed else None
    return fields


refusal_log = RefusalLog()

