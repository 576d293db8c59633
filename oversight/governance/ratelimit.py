"""Per-key request rate limits: at most N requests in any 60 seconds, per access key.

Counted by the `limits` library's moving window: in this process by default, or in Redis when
`OVERSIGHT_REDIS_URL` is set, so that every node of a cluster spends one allowance (the window is
kept and checked by one atomic Redis script per request). A Redis that cannot be reached fails
the request (InternalServerError): a limit that cannot be checked is not waived.
"""

from __future__ import annotations

import threading
import time

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..config import settings
from ..errors import ThrottlingException

_NAMESPACE = "oversight-key"


class RateLimited(ThrottlingException):
    """ThrottlingException raised by a key's policy rate limit; `rule` names it for the log."""

    rule = "rate_limit"


class RateLimiter:
    """Counts requests per key; `storage_uri` names the `limits` storage (default: Redis at
    `OVERSIGHT_REDIS_URL`, else this process's memory)."""

    def __init__(self, storage_uri: str | None = None) -> None:
        self._uri = storage_uri
        self._strategies: dict[str, MovingWindowRateLimiter] = {}
        self._lock = threading.Lock()

    def _strategy(self) -> MovingWindowRateLimiter:
        uri = self._uri or settings().redis_url or "memory://"
        with self._lock:
            if uri not in self._strategies:
                self._strategies[uri] = MovingWindowRateLimiter(storage_from_string(uri))
            return self._strategies[uri]

    def take(self, key: str, per_minute: int) -> None:
        """Spend one request of `key`'s allowance or raise RateLimited. A changed limit is a
        new allowance (the limit is part of the counter's name)."""
        strategy = self._strategy()
        limit = RateLimitItemPerMinute(per_minute)
        if strategy.hit(limit, _NAMESPACE, key):
            return
        reset = strategy.get_window_stats(limit, _NAMESPACE, key).reset_time
        raise RateLimited(
            f"access key {key} is limited to {per_minute} requests per minute by its policy; "
            f"retry in {max(0.0, reset - time.time()):.1f} s"
        )


limiter = RateLimiter()
