"""GetStreamProcessorEvents: Server-Sent Events of a stream processor's matches, for the API
(`GET /stream-processors/{name}/events`, SigV4-signed) and the console (a logged-in session).

Opening a stream is a governed call (catalog row GetStreamProcessorEvents: the processor's
collection, threshold and live search are judged, and who watches with which purpose is
audited). The open stream re-checks its key and policy every `event_stream_recheck_seconds` and
ends with an `error` event saying why once either no longer allows it. A stream waits on the
event loop, never in a thread of the shared pool (its re-checks borrow one of two threads for a
moment), and one key holds at most `max_event_streams_per_key` streams (ThrottlingException).
A watcher under a review clause sees each match as a review case of its own, not the identity
(governance.review.watched_events).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio

from ..errors import RekognitionError, ThrottlingException
from ..governance.catalog import EVENTS_OPERATION
from ..governance.gate import governed, still_allowed
from ..governance.review import watched_events
from ..operations.context import RequestContext
from ..video.runtime import processor_events
from ..video.sinks import EventFollower

POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0
# Clients reconnect after this (EventSource does so by itself).
MAX_STREAM_SECONDS = 3600.0
_LOCAL = "(local operator)"


class StreamSlots:
    """Open event streams per access key, bounded; and the threads their re-checks may use."""

    def __init__(self, per_key: int, recheck_seconds: float) -> None:
        self.per_key = per_key
        self.recheck_seconds = recheck_seconds
        self.recheck_threads = anyio.CapacityLimiter(2)
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        with self._lock:
            if self._open[key] >= self.per_key:
                raise ThrottlingException(
                    f"access key {key} already holds {self.per_key} open event streams, the "
                    "most one key may hold: close one first"
                )
            self._open[key] += 1

    def release(self, key: str) -> None:
        with self._lock:
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]


def _event(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {data}\n\n"


@dataclass
class EventStream:
    ctx: RequestContext
    name: str
    follower: EventFollower
    running: Callable[[], bool]
    slots: StreamSlots

    @property
    def key(self) -> str:
        return self.ctx.access_key_id or _LOCAL

    def refusal(self) -> RekognitionError | None:
        """Why the stream must end now (key revoked, policy changed), or None."""
        try:
            still_allowed(self.ctx, EVENTS_OPERATION, {"Name": self.name})
        except RekognitionError as error:
            return error
        return None

    async def events(self) -> AsyncIterator[str]:
        """`match` events as the processor writes them, a keepalive comment every 15 s; ends
        when the processor has stopped and every event is out, or with an `error` event."""
        try:
            started = checked = sent = time.monotonic()
            while time.monotonic() - started < MAX_STREAM_SECONDS:
                active = self.running()
                lines = self.follower.read()
                if lines:
                    lines = await anyio.to_thread.run_sync(
                        watched_events, self.ctx, self.name, lines,
                        limiter=self.slots.recheck_threads)
                for line in lines:
                    yield _event("match", line)
                now = time.monotonic()
                if lines:
                    sent = now
                elif not active:
                    return
                if now - checked >= self.slots.recheck_seconds:
                    checked = now
                    refusal = await anyio.to_thread.run_sync(
                        self.refusal, limiter=self.slots.recheck_threads
                    )
                    if refusal is not None:
                        body = {"__type": refusal.code, "Message": refusal.message}
                        yield _event("error", json.dumps(body))
                        return
                if now - sent >= KEEPALIVE_SECONDS:
                    yield ": keepalive\n\n"
                    sent = now
                if not lines:
                    await anyio.sleep(POLL_SECONDS)
        finally:
            self.slots.release(self.key)


def open_event_stream(ctx: RequestContext, name: str, slots: StreamSlots) -> EventStream:
    """The governed opening of a processor's event stream (blocking: run it in a thread)."""
    opened: list[EventStream] = []

    def start() -> dict[str, object]:
        stream_key = ctx.access_key_id or _LOCAL
        slots.take(stream_key)
        try:
            follower, running = processor_events(ctx.account_id, name)
        except BaseException:
            slots.release(stream_key)
            raise
        opened.append(EventStream(ctx, name, follower, running, slots))
        return {}

    try:
        governed(ctx, EVENTS_OPERATION, {"Name": name}, start)
    except BaseException:
        for stream in opened:  # opened, but its record could not be written: no stream
            slots.release(stream.key)
        raise
    return opened[0]
