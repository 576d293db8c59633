"""Shared fixtures: where the real data lives, and an isolated data directory per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Fixtures every test module may ask for by name: the real API server shared by every API test
# (tests/api_server.py; import its helpers, never its fixtures), the SQLite/PostgreSQL metadata
# stores (tests/collections_db.py), one Milvus server for the session, started by the first
# test that asks for it (tests/milvus_server.py), and the machine's Redis (tests/redis_server.py).
# The engines every test runs on (tests/engines.py: the embedded defaults, or PostgreSQL +
# Milvus + Redis under OVERSIGHT_TEST_ENGINES=cluster).
pytest_plugins = ["tests.collections_db", "tests.engines", "tests.api_server",
                  "tests.milvus_server", "tests.redis_server"]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def shared_path(relative: str) -> Path:
    """A file under ../shared/data; skip the test when it is absent (fail under CI=true)."""
    path = SHARED_DATA / relative
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing: CI must run with ../shared beside the repository")
        pytest.skip(f"{path} not found (../shared/data is not beside this checkout)")
    return path


@pytest.fixture
def shared_data() -> Path:
    return shared_path("")


@pytest.fixture(autouse=True)
def isolated_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_engines: dict[str, str]
) -> Path:
    """Every test gets its own OVERSIGHT_DATA_DIR (and, on the cluster engines, its own
    database) so no state leaks between tests."""
    data_dir = tmp_path / "oversight-data"
    monkeypatch.setenv("OVERSIGHT_DATA_DIR", str(data_dir))
    for variable, value in test_engines.items():
        monkeypatch.setenv(variable, value)
    # Apps built in-process (create_app) do not warm every model up in the test process.
    monkeypatch.setenv("OVERSIGHT_WARM_START", "false")
    from oversight.config import settings

    settings.cache_clear()
    yield data_dir
    settings.cache_clear()


# Fixtures that start a real server or need the PostgreSQL server: a test using one is marked
# `slow` / `postgres` whatever its module says, so `make test-fast` stays a quick loop as such
# tests are added.
_SERVER_FIXTURES = frozenset({"api_server", "rekognition", "milvus_url"})
_POSTGRES_FIXTURES = frozenset({"postgres_url", "fresh_postgres_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & _SERVER_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if used & _POSTGRES_FIXTURES:
            item.add_marker(pytest.mark.postgres)
