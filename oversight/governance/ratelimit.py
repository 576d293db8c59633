"""Per-key request rate limits: a token bucket per access key, refilled continuously.

Buckets live in this process: a server running several worker processes enforces the limit per
worker (docs/ACCOUNTABILITY.md says so).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..errors import ThrottlingException


class RateLimited(ThrottlingException):
    """ThrottlingException raised by a key's policy rate limit; `rule` names it for the log."""

    rule = "rate_limit"


@dataclass
class _Bucket:
    per_minute: int
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, per_minute: int, now: float | None = None) -> None:
        """Spend one request of `key`'s allowance or raise RateLimited."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.per_minute != per_minute:
                # A new or changed limit starts with a full allowance.
                bucket = self._buckets[key] = _Bucket(per_minute, float(per_minute), now)
            bucket.tokens = min(
                float(per_minute), bucket.tokens + (now - bucket.stamp) * per_minute / 60.0
            )
            bucket.stamp = now
            if bucket.tokens < 1.0:
                wait = (1.0 - bucket.tokens) * 60.0 / per_minute
                raise RateLimited(
                    f"access key {key} is limited to {per_minute} requests per minute by its "
                    f"policy; retry in {wait:.1f} s"
                )
            bucket.tokens -= 1.0


limiter = RateLimiter()
