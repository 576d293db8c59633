"""Which engines the suite runs on: the embedded defaults, or PostgreSQL + Milvus + Redis.

`OVERSIGHT_TEST_ENGINES=cluster` (`make test-cluster`, part of `make test`) runs every test as a
cluster node would be configured: OVERSIGHT_DATABASE_URL names a PostgreSQL database of the
test's own (dropped after it, as its data directory is), OVERSIGHT_VECTOR_URL the session's
Milvus server and OVERSIGHT_REDIS_URL the machine's Redis. A test about an embedded engine
itself (the file audit chain, SQLite, faiss files) is marked `embedded` and keeps the defaults.

As in a deployment, the store goes with the data directory: a server started on the test's data
directory shares the test's database; a server on another data directory (the session's API
server, a module's, a second deployment in one test) gets a database of that directory's own,
kept across its restarts until the session ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.collections_db import throwaway_database

CLUSTER = os.environ.get("OVERSIGHT_TEST_ENGINES", "embedded") == "cluster"
# The settings that point a node at the shared engines.
ENGINE_VARIABLES = ("OVERSIGHT_DATABASE_URL", "OVERSIGHT_VECTOR_URL", "OVERSIGHT_REDIS_URL")


@dataclass
class _SharedEngines:
    milvus_url: str
    redis_url: str
    template: str  # a database with the store's schema, which each new database copies
    # Databases of servers' own data directories, dropped when the session ends.
    by_data_dir: dict[Path, str] = field(default_factory=dict)
    drops: ExitStack = field(default_factory=ExitStack)

    def settings(self, database_url: str) -> dict[str, str]:
        return {"OVERSIGHT_DATABASE_URL": database_url, "OVERSIGHT_VECTOR_URL": self.milvus_url,
                "OVERSIGHT_REDIS_URL": self.redis_url}

    def new_database(self, prefix: str) -> AbstractContextManager[str]:
        # Copying a migrated template takes a fifth of the time the migrations take.
        return throwaway_database(prefix, self.template)


_shared: _SharedEngines | None = None


@pytest.fixture(scope="session", autouse=True)
def shared_engines(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under OVERSIGHT_TEST_ENGINES=cluster: the session's Milvus and Redis, and the template."""
    global _shared
    if not CLUSTER:
        yield
        return
    from oversight.store import engine_for

    milvus, redis = request.getfixturevalue("milvus_url"), request.getfixturevalue("redis_url")
    with throwaway_database("oversight_template") as template:
        engine_for(template).dispose()  # migrated
        _shared = _SharedEngines(milvus, redis, template.rsplit("/", 1)[1])
        with _shared.drops:
            yield
        _shared = None


@pytest.fixture
def test_engines(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The engine settings of this test ({}: the embedded defaults)."""
    if _shared is None or request.node.get_closest_marker("embedded"):
        yield {}
        return
    with _shared.new_database("oversight_test") as database:
        yield _shared.settings(database)


def server_engines(data_dir: Path) -> dict[str, str]:
    """The engine settings of a server on `data_dir` ({}: those of the test that starts it)."""
    current = os.environ.get("OVERSIGHT_DATA_DIR")
    if _shared is None or (current and Path(current).resolve() == data_dir.resolve()):
        return {}
    key = data_dir.resolve()
    if key not in _shared.by_data_dir:
        _shared.by_data_dir[key] = _shared.drops.enter_context(
            _shared.new_database("oversight_server"))
    return _shared.settings(_shared.by_data_dir[key])
