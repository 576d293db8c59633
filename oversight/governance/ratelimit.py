"""Rate limits: at most N requests in any 60 seconds per access key (its policy, `limiter`), and
at most N failed authentications per source address (`FailureThrottle`).

Counted by the `limits` library's moving window: in this process by default, or in Redis when
`OVERSIGHT_REDIS_URL` is set, so that every node of a cluster spends one allowance (the window is
kept and checked by one atomic Redis script per request). A Redis that cannot be reached fails
the request (InternalServerError): a limit that cannot be checked is not waived.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..config import settings
from ..errors import InvalidSignatureException, ThrottlingException, UnrecognizedClientException

_NAMESPACE = "oversight-key"
_FAILURES_NAMESPACE = "oversight-auth-failures"


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

    def strategy(self) -> MovingWindowRateLimiter:
        uri = self._uri or settings().redis_url or "memory://"
        with self._lock:
            if uri not in self._strategies:
                self._strategies[uri] = MovingWindowRateLimiter(storage_from_string(uri))
            return self._strategies[uri]

    def retry_in(self, limit: RateLimitItemPerMinute, namespace: str, key: str) -> float:
        reset = self.strategy().get_window_stats(limit, namespace, key).reset_time
        return max(0.0, reset - time.time())

    def take(self, key: str, per_minute: int) -> None:
        """Spend one request of `key`'s allowance or raise RateLimited. A changed limit is a
        new allowance (the limit is part of the counter's name)."""
        strategy = self.strategy()
        limit = RateLimitItemPerMinute(per_minute)
        if strategy.hit(limit, _NAMESPACE, key):
            return
        raise RateLimited(
            f"access key {key} is limited to {per_minute} requests per minute by its policy; "
            f"retry in {self.retry_in(limit, _NAMESPACE, key):.1f} s"
        )


class FailureThrottle:
    """Failed authentications per source address, API signatures and console logins alike: once
    an address has `per_minute` failures in the last 60 s, every attempt from it is refused with
    ThrottlingException, before any key is looked up or signature computed, until the oldest
    failure leaves the window (`per_minute` 0: no limit). Counted per address, not per key id:
    key ids are not secret, and counting per key would let anyone lock a key's holder out; the
    secrets themselves (40 random characters) are beyond guessing at any rate. One per server
    (its counters are this process's, or the cluster's in Redis)."""

    FAILURES = (InvalidSignatureException, UnrecognizedClientException)

    def __init__(self, per_minute: int, limiter: RateLimiter | None = None) -> None:
        self._limit = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self._limiter = limiter or RateLimiter()

    @contextmanager
    def attempt(self, address: str) -> Iterator[None]:
        """Refuse an over-limit `address`; count the block's authentication failure against it."""
        limit = self._limit
        if limit is None:
            yield
            return
        strategy = self._limiter.strategy()
        if not strategy.test(limit, _FAILURES_NAMESPACE, address):
            wait = self._limiter.retry_in(limit, _FAILURES_NAMESPACE, address)
            raise ThrottlingException(
                f"Too many failed authentications from {address}: at most {limit.amount} a "
                f"minute; retry in {wait:.1f} s"
            )
        try:
            yield
        except self.FAILURES:
            strategy.hit(limit, _FAILURES_NAMESPACE, address)
            raise


limiter = RateLimiter()
