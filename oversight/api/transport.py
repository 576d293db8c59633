"""Deadlines for reading a request, which uvicorn does not have: a connection that has not sent
a request's headers within `header_timeout` seconds (counted from the connection opening, or from
the request's first byte on a kept-alive connection), or its body within `body_timeout` seconds
of the headers, is closed. Without them a client sending half a header line holds a connection
(and its buffers) for ever; uvicorn's `timeout_keep_alive` only covers the idle time between
requests. This covers every route, the console's forms included. The API answers a slow body
with RequestTimeoutException itself (api/intake.py) at `body_timeout`; the connection's own
deadline comes `_GRACE_SECONDS` later, so that answer is sent before the connection is cut.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_GRACE_SECONDS = 1.0


class _DeadlineH11(H11Protocol):
    header_timeout: float
    body_timeout: float
    _deadline: asyncio.TimerHandle | None = None
    # The client state the deadline waits to see left (h11.IDLE: headers, SEND_BODY: body).
    _awaited: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, h11.IDLE)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm(self.header_timeout, h11.IDLE)  # the first byte of the next request
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY and self._awaited is h11.IDLE:
            self._arm(self.body_timeout + _GRACE_SECONDS, h11.SEND_BODY)
        elif state is not self._awaited:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, awaited: object) -> None:
        self._disarm()
        self._awaited = awaited
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._awaited = None, None

    def _expire(self) -> None:
        awaited, self._deadline, self._awaited = self._awaited, None, None
        if self.conn.their_state is awaited and not self.transport.is_closing():
            self.transport.close()


def deadline_protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with these read deadlines (pass as `uvicorn.run(http=...)`)."""
    return type(
        "DeadlineH11Protocol",
        (_DeadlineH11,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
