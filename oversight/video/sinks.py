"""Where match events go besides webhooks: an append-only JSONL file per processor."""

from __future__ import annotations

import json
import threading
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
