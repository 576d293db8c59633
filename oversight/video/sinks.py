"""Where match events go besides webhooks: an append-only JSONL file per processor, which the
API's Server-Sent-Events endpoint follows (so it works whichever process runs the processor)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol


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


class EventFollower(Protocol):
    """New events (JSON lines) since the last read, without waiting."""

    def read(self) -> list[str]: ...


class JsonlFollower:
    """New complete lines of `path` from byte `start` (default: its end now), read without
    waiting: the caller decides how to wait between reads (the API's SSE loop sleeps on the event
    loop, so an idle stream holds no thread)."""

    def __init__(self, path: Path, start: int | None = None) -> None:
        self.path = path
        self.offset = (path.stat().st_size if path.exists() else 0) if start is None else start
        self._pending = b""

    def read(self) -> list[str]:
        if not self.path.exists() or self.path.stat().st_size <= self.offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        return [line.decode() for line in lines]
