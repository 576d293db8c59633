"""JSON over HTTP POST, for job notifications and match events.

`WebhookSender` delivers from a background thread through a bounded queue, so a slow receiver
delays neither analysis nor other sinks; when the queue is full the oldest event is dropped and
counted rather than growing memory without bound.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0


def post_json(url: str, payload: dict[str, Any], timeout: float = TIMEOUT_SECONDS,
              headers: dict[str, str] | None = None) -> int:
    """POST `payload` as JSON; returns the HTTP status (raises OSError when unreachable)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


class WebhookSender:
    def __init__(self, url: str, capacity: int = 1000) -> None:
        self.url = url
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._deliver, name=f"webhook {url}", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        while True:
            try:
                self._queue.put_nowait(payload)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _deliver(self) -> None:
        while (payload := self._queue.get()) is not None:
            try:
                status = post_json(self.url, payload)
                ok = 200 <= status < 300
            except OSError as error:
                log.warning("webhook %s unreachable: %s", self.url, error)
                ok = False
            if ok:
                self.delivered += 1
            else:
                self.failed += 1

    def close(self, timeout: float = TIMEOUT_SECONDS) -> None:
        """Deliver what is queued (within `timeout`), then stop."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("webhook %s: %d events undelivered at close", self.url,
                        self._queue.qsize())
            return
        self._thread.join(timeout)
