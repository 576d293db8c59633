"""`oversight store copy`: a single machine's store moves into PostgreSQL with its history.

The source is always the embedded store (SQLite and the file audit chain), whatever engines the
suite runs on; the target is a PostgreSQL database of the test's own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, Table, create_engine, func, select
from typer.testing import CliRunner, Result

import oversight
from oversight.api.keys import KeyStore
from oversight.cli import app
from oversight.collections.tables import collections, faces, tags
from oversight.config import settings
from oversight.governance import admin, tables
from oversight.governance.audit import AuditLog, Head
from oversight.governance.policy import Policy, list_policies
from oversight.governance.retention import RetentionRule
from oversight.keyfiles import load_cipher
from oversight.operations.context import RequestContext
from oversight.store import get_engine, metadata
from oversight.store.copy import tables_holding_rows
from tests.conftest import shared_path

# The store being moved is embedded, also when the suite runs on the cluster engines.
pytestmark = pytest.mark.embedded

FACES = "faces/face-api.js/examples/images"


def _image(name: str) -> dict[str, bytes]:
    return {"Bytes": shared_path(f"{FACES}/{name}.png").read_bytes()}


def _copy(target: str) -> Result:
    return CliRunner().invoke(app, ["store", "copy", "--to", target])


def _use_store(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", url)
    settings.cache_clear()


def _audited_activity() -> dict[str, object]:
    """A deployment's day through the public API: a collection with tags, faces and a user, a
    key with a policy, retention, searches. Returns what it made."""
    ctx = RequestContext.local()
    oversight.call("CreateCollection", {"CollectionId": "city", "Tags": {"dept": "transit"}})
    indexed = [
        oversight.call("IndexFaces", {"CollectionId": "city", "Image": _image(f"{name}/{name}1"),
                                      "ExternalImageId": name, "MaxFaces": 1})
        for name in ("amy", "raj")
    ]
    face_ids = [answer["FaceRecords"][0]["Face"]["FaceId"] for answer in indexed]
    oversight.call("CreateUser", {"CollectionId": "city", "UserId": "amy"})
    oversight.call("AssociateFaces",
                   {"CollectionId": "city", "UserId": "amy", "FaceIds": face_ids[:1]})
    key = KeyStore.default().create(description="camera desk").key
    admin.set_policy(ctx, Policy(access_key_id=key.access_key_id, min_match_threshold=90.0))
    admin.set_retention(ctx, RetentionRule(ctx.account_id, "city", 30.0))
    oversight.call("SearchFacesByImage", {"CollectionId": "city", "Image": _image("amy/amy2")},
                   purpose="before the move")
    return {"faces": face_ids, "key": key.access_key_id}


def _keys() -> list[tuple[str, str, datetime]]:
    return [(k.access_key_id, k.account_id, k.created_at.replace(tzinfo=k.created_at.tzinfo or UTC))
            for k in KeyStore.default().list()]


def test_a_store_moves_with_its_history(
    fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _audited_activity()
    before = AuditLog()
    anchor, chain = before.head(), b"".join(before.lines())
    keys_before = _keys()

    done = _copy(fresh_postgres_url)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["Rows"]["collection_faces"] == 2 and summary["Rows"]["access_keys"] == 1
    assert summary["Rows"]["collection_tags"] == 1 and summary["Rows"]["collection_users"] == 1
    assert summary["AuditRecords"] == anchor.seq
    assert summary["Head"]["seq"] == anchor.seq + 1

    embedded = get_engine(settings().sqlalchemy_url)
    for table in metadata.sorted_tables:
        if table.name not in ("audit_records", "audit_head"):  # the chain: below
            assert _rows(get_engine(fresh_postgres_url), table) == _rows(embedded, table)

    _use_store(monkeypatch, fresh_postgres_url)
    assert oversight.call("ListCollections", {})["CollectionIds"] == ["city"]
    listed = oversight.call("ListFaces", {"CollectionId": "city"})["Faces"]
    assert sorted(f["FaceId"] for f in listed) == sorted(made["faces"])
    assert oversight.call("ListUsers", {"CollectionId": "city"})["Users"][0]["UserId"] == "amy"
    assert _keys() == keys_before  # the same instants: SQLite's naive UTC times, now zoned
    assert KeyStore.default().active_secret(str(made["key"])) is not None  # same Fernet key
    assert [p.min_match_threshold for p in list_policies()] == [90.0]
    found = oversight.call("SearchFacesByImage",
                           {"CollectionId": "city", "Image": _image("amy/amy2")})
    assert found["FaceMatches"][0]["Face"]["FaceId"] == made["faces"][0]

    after = AuditLog()
    assert after.path is None  # the database's chain
    assert after.verify().ok and after.verify([anchor]).ok
    assert b"".join(after.lines()).startswith(chain)
    for args in (["--seq", str(anchor.seq), "--hash", anchor.hash], []):
        verified = CliRunner().invoke(app, ["audit", "verify", *args])
        assert verified.exit_code == 0, verified.output
    # The record after the last one moved (before this test's own requests): the move.
    move = list(after.records())[anchor.seq]
    assert move["kind"] == "admin" and move["action"] == "MoveStore"
    assert move["details"]["Rows"] == summary["Rows"]
    assert move["details"]["SourceHead"] == anchor.to_json()
    assert move["details"]["From"].endswith("oversight.db")

    # New faces continue the copied seqs (never reusing one: Milvus keys faces by it).
    oversight.call("IndexFaces", {"CollectionId": "city", "Image": _image("howard/howard1"),
                                  "MaxFaces": 1})
    with get_engine(fresh_postgres_url).connect() as conn:
        seqs = conn.execute(select(faces.c.seq).order_by(faces.c.seq)).scalars().all()
    assert seqs[-1] == seqs[-2] + 1 and len(set(seqs)) == 3


def test_collections_check_replays_the_moved_faces_into_milvus(
    fresh_postgres_url: str, milvus_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    oversight.call("CreateCollection", {"CollectionId": "city"})
    indexed = oversight.call("IndexFaces", {"CollectionId": "city", "Image": _image("amy/amy1"),
                                            "MaxFaces": 1})
    assert _copy(fresh_postgres_url).exit_code == 0

    _use_store(monkeypatch, fresh_postgres_url)
    monkeypatch.setenv("OVERSIGHT_VECTOR_URL", milvus_url)
    settings.cache_clear()
    checked = CliRunner().invoke(app, ["collections", "check"])
    assert checked.exit_code == 0, checked.output
    (report,) = json.loads(checked.stdout)["Collections"]
    assert report["Replayed"] == 1
    found = oversight.call("SearchFacesByImage",
                           {"CollectionId": "city", "Image": _image("amy/amy2")})
    assert found["FaceMatches"][0]["Face"]["FaceId"] == indexed["FaceRecords"][0]["Face"]["FaceId"]


def test_the_move_record_is_the_new_chains_last(fresh_postgres_url: str) -> None:
    admin.set_retention(RequestContext.local(), RetentionRule("000000000000", "c", 1.0))
    done = _copy(fresh_postgres_url)
    assert done.exit_code == 0, done.output
    head = Head(**json.loads(done.stdout)["Head"])
    log = AuditLog(store_url=fresh_postgres_url)
    assert log.head() == head == log.verify().head
    assert list(log.records())[-1]["action"] == "MoveStore"


@pytest.mark.parametrize("holding", ["a row", "an audit record"])
def test_a_target_holding_data_is_refused_and_left_as_it_was(
    holding: str, fresh_postgres_url: str
) -> None:
    admin.set_retention(RequestContext.local(), RetentionRule("000000000000", "c", 1.0))
    if holding == "a row":
        target = KeyStore(get_engine(fresh_postgres_url), load_cipher(settings().data_dir))
        target.create(description="a live cluster's key")
    else:
        AuditLog(store_url=fresh_postgres_url).append({"kind": "admin", "node": "live"})
    before = _snapshot(fresh_postgres_url)

    done = _copy(fresh_postgres_url)
    assert done.exit_code == 1
    assert "already holds data" in done.stderr and "never merged" in done.stderr
    assert _snapshot(fresh_postgres_url) == before


def test_a_damaged_source_chain_is_refused_and_nothing_is_written(
    fresh_postgres_url: str,
) -> None:
    ctx = RequestContext.local()
    for days in (1.0, 2.0, 3.0):
        admin.set_retention(ctx, RetentionRule(ctx.account_id, "c", days))
    log = AuditLog()
    assert log.path is not None
    lines = log.path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"2.0", b"9.0")
    log.path.write_bytes(b"".join(lines))

    done = _copy(fresh_postgres_url)
    assert done.exit_code == 1
    assert "does not verify (line 2)" in done.stderr and "edited" in done.stderr
    probe = create_engine(fresh_postgres_url)
    with probe.connect() as conn:
        assert tables_holding_rows(conn) == []  # not even migrated: no row anywhere
    probe.dispose()


def test_a_copy_that_fails_midway_leaves_the_target_empty(fresh_postgres_url: str) -> None:
    ctx = RequestContext.local()
    oversight.call("CreateCollection", {"CollectionId": "city"})
    admin.set_retention(ctx, RetentionRule(ctx.account_id, "city", 30.0))
    # SQLite does not enforce a column's length; PostgreSQL refuses this row, of a table copied
    # after those holding the collection and the retention rule.
    with get_engine(settings().sqlalchemy_url).begin() as conn:
        conn.execute(tags.insert().values(
            collection_pk=conn.scalar(select(collections.c.pk)), key="note", value="x" * 300))

    done = _copy(fresh_postgres_url)
    assert done.exit_code == 1 and "copying collection_tags" in done.stderr
    with get_engine(fresh_postgres_url).connect() as conn:
        assert tables_holding_rows(conn, ignore=["audit_head"]) == []
    assert AuditLog(store_url=fresh_postgres_url).head().seq == 0


def _rows(engine: Engine, table: Table) -> list[tuple[object, ...]]:
    """Every row of `table`, times as instants (SQLite keeps UTC without a zone)."""
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(*table.primary_key)).all()
    return [
        tuple(v.replace(tzinfo=v.tzinfo or UTC) if isinstance(v, datetime) else v for v in row)
        for row in rows
    ]


def _snapshot(url: str) -> dict[str, object]:
    """What a refused copy must leave alone: the row counts of the tables the tests fill, and
    the chain's head."""
    probe = create_engine(url)
    with probe.connect() as conn:
        counts = {
            name: conn.scalar(select(func.count()).select_from(metadata.tables[name]))
            for name in ("access_keys", "governance_retention", "audit_records")
        }
        head = conn.execute(select(tables.audit_head.c.seq, tables.audit_head.c.hash)).one()
    probe.dispose()
    return {**counts, "head": tuple(head)}
