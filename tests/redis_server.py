"""The machine's Redis (127.0.0.1:6379, or `OVERSIGHT_TEST_REDIS`) for cluster-mode tests.

`redis_url` skips the test when no Redis answers, except under CI=true where that is a failure.
Tests share the server: each names its own keys (fresh access key ids, processor names).
"""

from __future__ import annotations

import os

import pytest

REDIS_SERVER = os.environ.get("OVERSIGHT_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_SERVER, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_SERVER} is unreachable under CI: {exc}")
        pytest.skip(f"Redis at {REDIS_SERVER} is unreachable: {exc}")
    return REDIS_SERVER
