"""Run a test against both metadata stores: SQLite (default) and PostgreSQL.

Ask for `store_url` and `account` by name (tests/conftest.py loads this module as a plugin).
PostgreSQL runs carry the `postgres` marker and get a throw-away database for the session, dropped
at the end; they skip when no server answers, except under CI=true where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

PG_SERVER = os.environ.get("OVERSIGHT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with throwaway_database("oversight_collections") as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A database of the test's own, for state that every user of a database shares (the
    audit chain)."""
    with throwaway_database("oversight_test") as url:
        yield url


def admin_connection() -> Any:
    """An autocommit connection to the PostgreSQL server's `postgres` database (skips the test
    without a server, fails under CI=true)."""
    import psycopg

    plain = PG_SERVER.replace("postgresql+psycopg://", "postgresql://")
    try:
        return psycopg.connect(f"{plain}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_SERVER} is unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_SERVER} is unreachable: {exc}")


def create_database(admin: Any, prefix: str, template: str = "template1") -> str:
    """A new database, a copy of `template`: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{PG_SERVER}/{name}"


def forget_engine(url: str) -> None:
    """Close this process's connections to the database at `url` (its engine is made anew if
    it is asked for again)."""
    from oversight.store.db import _engines

    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def drop_database(admin: Any, url: str) -> None:
    """Drop the database at `url`, after this process's engine for it lets go."""
    forget_engine(url)
    admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@contextmanager
def throwaway_database(prefix: str, template: str = "template1") -> Iterator[str]:
    """A PostgreSQL database created for the caller (a copy of `template`) and dropped after
    it (skips without a server, fails under CI=true)."""
    with admin_connection() as admin:
        url = create_database(admin, prefix, template)
        try:
            yield url
        finally:
            drop_database(admin, url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(
    request: pytest.FixtureRequest, isolated_data_dir: object, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The configured store URL for this test (OVERSIGHT_DATABASE_URL set for PostgreSQL). A test
    may also ask for "milvus" (`@pytest.mark.parametrize("store_url", [...], indirect=True)`):
    PostgreSQL with collections' vectors in the session's Milvus server (cluster mode)."""
    from oversight.config import settings

    if request.param in ("postgresql", "milvus"):
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("OVERSIGHT_DATABASE_URL", url)
    if request.param == "milvus":
        monkeypatch.setenv("OVERSIGHT_VECTOR_URL", request.getfixturevalue("milvus_url"))
    settings.cache_clear()
    return settings().sqlalchemy_url


@pytest.fixture
def account() -> str:
    """A tenant of its own, so tests sharing a PostgreSQL database never see each other."""
    return uuid.uuid4().hex[:12]
