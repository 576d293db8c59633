"""The suite runs on the engines it says it runs on (tests/engines.py): on the embedded defaults,
or, under OVERSIGHT_TEST_ENGINES=cluster, on PostgreSQL, Milvus and Redis, in this process and
in the servers the tests start."""

from __future__ import annotations

import pytest

from oversight.collections import collection_service
from oversight.collections.milvus import MilvusRegistry
from oversight.config import settings
from oversight.governance.audit import AuditLog
from oversight.governance.ratelimit import limiter
from tests.api_server import ApiServer
from tests.engines import CLUSTER, ENGINE_VARIABLES


def test_this_process_runs_on_the_configured_engines() -> None:
    config = settings()
    registry = collection_service().indexes
    storage = type(limiter.strategy().storage).__name__
    if CLUSTER:
        assert config.sqlalchemy_url.startswith("postgresql")
        assert isinstance(registry, MilvusRegistry)
        assert AuditLog().path is None  # the chain is PostgreSQL's
        assert storage == "RedisStorage"
    else:
        assert config.sqlalchemy_url.startswith("sqlite")
        assert not isinstance(registry, MilvusRegistry)
        assert AuditLog().path is not None
        assert storage == "MemoryStorage"


@pytest.mark.embedded
def test_a_test_about_an_embedded_engine_keeps_the_defaults() -> None:
    config = settings()
    assert (config.database_url, config.vector_url, config.redis_url) == ("", "", "")


def test_the_session_server_runs_on_engines_of_its_own(api_server: ApiServer) -> None:
    if CLUSTER:
        assert set(api_server.engines) == set(ENGINE_VARIABLES)
        # Its own database: the test's store is another deployment's.
        assert api_server.store_url != settings().sqlalchemy_url
    else:
        assert api_server.engines == {}
