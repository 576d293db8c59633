"""The audit chain in PostgreSQL (cluster mode): one chain that processes append to at once,
verified, exported and anchored by the same commands as the file chain."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import delete, select, update

from oversight.config import settings
from oversight.governance import tables
from oversight.governance.audit import AuditLog, AuditLogDamaged
from oversight.store import get_engine
from tests.api_server import BIN

pytestmark = pytest.mark.postgres

_APPEND = """
import sys
from oversight.governance.audit import AuditLog
log = AuditLog()
for i in range(int(sys.argv[2])):
    log.append({"kind": "operation", "node": sys.argv[1], "n": i})
"""


@pytest.fixture
def chain_url(fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", fresh_postgres_url)
    settings.cache_clear()
    return fresh_postgres_url


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "oversight"), "audit", *args],
                          capture_output=True, text=True, timeout=120)


def test_processes_appending_at_once_form_one_chain(chain_url: str) -> None:
    nodes = [
        subprocess.Popen([sys.executable, "-c", _APPEND, f"node-{i}", "60"]) for i in range(3)
    ]
    log = AuditLog()
    assert log.path is None  # not the file: the database's chain
    for i in range(30):
        log.append({"kind": "operation", "node": "this", "n": i})
    assert [node.wait(timeout=120) for node in nodes] == [0, 0, 0]

    records = list(log.records())
    assert [r["seq"] for r in records] == list(range(1, 211))
    assert {r["node"] for r in records} == {"this", "node-0", "node-1", "node-2"}
    verdict = log.verify()
    assert verdict.ok and verdict.records == 210 and log.head() == verdict.head

    verified = _cli("verify")
    assert verified.returncode == 0 and json.loads(verified.stdout)["Records"] == 210
    assert json.loads(_cli("head").stdout) == verdict.head.to_json()
    exported = _cli("export").stdout.encode()
    assert exported == b"".join(log.lines()) and exported.count(b"\n") == 210


def test_tampering_in_the_database_is_named_and_stops_appends(chain_url: str) -> None:
    log = AuditLog()
    for i in range(5):
        log.append({"kind": "operation", "n": i})
    engine = get_engine(chain_url)
    original = list(log.lines())
    with engine.begin() as conn:
        conn.execute(update(tables.audit_records).where(tables.audit_records.c.seq == 3)
                     .values(line=original[2].replace(b'"n": 2', b'"n": 7')))
    verdict = log.verify()
    assert not verdict.ok and verdict.bad_line == 3 and "edited" in (verdict.problem or "")
    assert _cli("verify").returncode == 1

    with engine.begin() as conn:  # restored, then the last record cut off
        conn.execute(update(tables.audit_records).where(tables.audit_records.c.seq == 3)
                     .values(line=original[2]))
        conn.execute(delete(tables.audit_records).where(tables.audit_records.c.seq == 5))
    verdict = log.verify()
    assert not verdict.ok and "truncated" in (verdict.problem or "")
    with pytest.raises(AuditLogDamaged):  # fail closed: nothing chains onto a cut chain
        log.append({"kind": "operation", "n": 99})
    with engine.connect() as conn:
        assert conn.execute(select(tables.audit_head.c.seq)).scalar_one() == 5
