"""A stream processor's match events shared through Redis (cluster mode, `OVERSIGHT_REDIS_URL`).

Each processor has one Redis stream, `oversight:stream-events:<account>:<name>`, that the node
running it appends every match event to (after the audit log took it). From there:

- event watchers (GetStreamProcessorEvents) on any node read it, from the start of the current
  session (`session-start` names the last entry before it);
- the webhook of the processor's Kinesis data stream receives each entry in order, with the entry
  id as `X-Oversight-Event-Id`; the id of the last entry the webhook accepted (2xx) is kept in
  Redis, so the node that takes over a processor whose node died first delivers what was left
  undelivered: at-least-once, and receivers de-duplicate by the id.

The stream keeps about the last `MAX_EVENTS` entries (Redis trims the oldest).
"""

from __future__ import annotations

import json
import logging
import threading
from functools import lru_cache
from typing import Any

import redis

from .webhooks import post_json

log = logging.getLogger(__name__)

MAX_EVENTS = 10_000
EVENT_ID_HEADER = "X-Oversight-Event-Id"
_READ_BATCH = 100
_RETRY_SECONDS = 1.0
_IDLE_BLOCK_MS = 500


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


class ProcessorEvents:
    """The Redis stream of one processor's match events."""

    def __init__(self, url: str, account_id: str, name: str) -> None:
        self.redis = _client(url)
        self.key = f"oversight:stream-events:{account_id}:{name}"

    def append(self, event: dict[str, Any]) -> str:
        """Add one event; returns its id (stable: the webhook and watchers see the same)."""
        entry = self.redis.xadd(self.key, {"event": json.dumps(event, default=str)},
                                maxlen=MAX_EVENTS, approximate=True)
        return entry.decode()

    def start_session(self) -> None:
        """Events of the session starting now begin after the stream's current last entry."""
        last = self.redis.xrevrange(self.key, count=1)
        self.redis.set(f"{self.key}:session-start", last[0][0] if last else b"0-0")

    def follower(self) -> RedisFollower:
        start = self.redis.get(f"{self.key}:session-start")
        return RedisFollower(self, start.decode() if start else "0-0")

    def read_after(self, entry_id: str, block_ms: int | None = None) -> list[tuple[str, str]]:
        """(id, event JSON) of the entries after `entry_id`, oldest first."""
        found = self.redis.xread({self.key: entry_id}, count=_READ_BATCH, block=block_ms)
        if not found:
            return []
        return [(eid.decode(), fields[b"event"].decode()) for eid, fields in found[0][1]]

    def delivered(self, url: str) -> str:
        cursor = self.redis.hget(f"{self.key}:delivered", url)
        return cursor.decode() if cursor else self._session_start_or_zero()

    def _session_start_or_zero(self) -> str:
        start = self.redis.get(f"{self.key}:session-start")
        return start.decode() if start else "0-0"

    def mark_delivered(self, url: str, entry_id: str) -> None:
        self.redis.hset(f"{self.key}:delivered", url, entry_id)

    def forget(self) -> None:
        """Drop the processor's events and cursors (it was deleted: its matches go with it)."""
        self.redis.delete(self.key, f"{self.key}:session-start", f"{self.key}:delivered")


class RedisFollower:
    """New events of the stream, read without waiting (the SSE loop decides how to wait)."""

    def __init__(self, events: ProcessorEvents, start: str) -> None:
        self._events = events
        self._last = start

    def read(self) -> list[str]:
        entries = self._events.read_after(self._last)
        if entries:
            self._last = entries[-1][0]
        return [event for _, event in entries]


class WebhookDelivery:
    """Delivers a processor's events to its webhook from the last one it accepted, in order,
    retrying a failed delivery until it succeeds or the delivery is closed."""

    def __init__(self, events: ProcessorEvents, url: str) -> None:
        self.events = events
        self.url = url
        self.delivered = 0
        self._draining = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"webhook {url}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        cursor = self.events.delivered(self.url)
        while True:
            try:
                entries = self.events.read_after(cursor, block_ms=_IDLE_BLOCK_MS)
            except redis.RedisError as error:
                log.warning("stream events unreadable from Redis: %s", error)
                if self._draining.wait(_RETRY_SECONDS):
                    return
                continue
            if not entries and self._draining.is_set():
                return
            for entry_id, event in entries:
                while not self._post(entry_id, json.loads(event)):
                    # Undelivered events stay in Redis for whoever runs the processor next.
                    if self._draining.wait(_RETRY_SECONDS):
                        return
                cursor = entry_id
                self.events.mark_delivered(self.url, entry_id)
                self.delivered += 1

    def _post(self, entry_id: str, event: dict[str, Any]) -> bool:
        try:
            status = post_json(self.url, event, headers={EVENT_ID_HEADER: entry_id})
        except OSError as error:
            log.warning("webhook %s unreachable: %s", self.url, error)
            return False
        return 200 <= status < 300

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is in the stream (within `timeout`), then stop; what a failing webhook
        did not take waits in Redis for whichever node runs the processor next."""
        self._draining.set()
        self._thread.join(timeout)
