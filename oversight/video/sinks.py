"""Where match events go besides webhooks: an append-only JSONL file per processor, which the
API's Server-Sent-Events endpoint follows (so it works whichever process runs the processor)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class JsonlSink:
    """Appends one JSON line per event and flushes it, so readers (`tail -f`, SSE) see it now."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, default=str) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)


def follow_jsonl(path: Path, running: Callable[[], bool], start: int | None = None,
                 poll: float = 0.2, keepalive: float = 15.0,
                 max_seconds: float = 3600.0) -> Iterator[str]:
    """Server-Sent Events for the lines of `path` from byte `start` (default: its end now): one
    `data:` message per event, a comment every `keepalive` seconds; ends once `running()` is
    false and every line is out, or after `max_seconds` (clients reconnect)."""
    if start is None:
        start = path.stat().st_size if path.exists() else 0
    offset = start
    started = last_sent = time.monotonic()
    pending = b""
    while time.monotonic() - started < max_seconds:
        active = running()
        if path.exists() and path.stat().st_size > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            offset += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield f"event: match\ndata: {line.decode()}\n\n"
                last_sent = time.monotonic()
            continue
        if not active:
            return
        if time.monotonic() - last_sent >= keepalive:
            yield ": keepalive\n\n"
            last_sent = time.monotonic()
        time.sleep(poll)
