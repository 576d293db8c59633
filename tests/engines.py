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

import itertools
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.collections_db import (
    admin_connection,
    create_database,
    drop_database,
    forget_engine,
    throwaway_database,
)

CLUSTER = os.environ.get("OVERSIGHT_TEST_ENGINES", "embedded") == "cluster"
# The settings that point a node at the shared engines.
ENGINE_VARIABLES = ("OVERSIGHT_DATABASE_URL", "OVERSIGHT_VECTOR_URL", "OVERSIGHT_REDIS_URL")


class _DatabaseSupply:
    """The tests' databases, copied from the template ahead of the tests that take them and
    dropped behind them by one thread of their own, in the order asked: a test waits for
    neither (~0.2 s each on a quiet machine, minutes over a whole run). A test's connections
    close when it ends; were drops put off behind copies, the databases of finished tests would
    keep the connections of servers and threads they started until PostgreSQL ran out."""

    _CHORE, _STOP = range(2)  # every chore before stopping
    _CREATE = ""  # a chore that names no database creates one

    def __init__(self, template: str, ahead: int = 3) -> None:
        self._template = template
        self._admin = admin_connection()
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._chores: queue.PriorityQueue[tuple[int, int, str]] = queue.PriorityQueue()
        self._order = itertools.count()
        for _ in range(ahead):
            self._chore()
        self._thread = threading.Thread(target=self._work, name="test databases", daemon=True)
        self._thread.start()

    def _chore(self, database: str = _CREATE, kind: int = _CHORE) -> None:
        self._chores.put((kind, next(self._order), database))

    def _work(self) -> None:
        while (chore := self._chores.get())[0] != self._STOP:
            database = chore[2]
            try:
                if database:
                    drop_database(self._admin, database)
                else:
                    self._ready.put(create_database(self._admin, "oversight_test", self._template))
            except Exception as error:  # the test that takes it fails with it
                self._ready.put(error)

    def take(self) -> str:
        self._chore()
        database = self._ready.get(timeout=120)
        if isinstance(database, BaseException):
            raise database
        return database

    def give_back(self, database: str) -> None:
        forget_engine(database)
        self._chore(database)

    def close(self) -> None:
        self._chore(kind=self._STOP)
        self._thread.join()
        while not self._ready.empty():
            if isinstance(database := self._ready.get(), str):
                drop_database(self._admin, database)
        self._admin.close()


@dataclass
class _SharedEngines:
    milvus_url: str
    redis_url: str
    template: str  # a database with the store's schema, which each new database copies
    tests: _DatabaseSupply
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
        name = template.rsplit("/", 1)[1]
        _shared = _SharedEngines(milvus, redis, name, _DatabaseSupply(name))
        with _shared.drops:
            _shared.drops.callback(_shared.tests.close)
            yield
        _shared = None


@pytest.fixture
def test_engines(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The engine settings of this test ({}: the embedded defaults)."""
    if _shared is None or request.node.get_closest_marker("embedded"):
        yield {}
        return
    database = _shared.tests.take()
    try:
        yield _shared.settings(database)
    finally:
        _shared.tests.give_back(database)


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
