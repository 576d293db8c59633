"""Move a single-machine deployment's store into an empty PostgreSQL database (cluster mode),
history included: `oversight store copy --to postgresql+psycopg://...`.

Every table's rows are copied as stored (access-key secrets stay encrypted with the data
directory's `access-keys.fernet`, which every node shares anyway) and the file audit chain
becomes the database chain record for record, so anchors and exports taken before the move
still verify against the cluster's chain. The move itself is the new chain's next record.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, create_engine, inspect, make_url, select

from ..config import settings
from ..operations.context import RequestContext
from ..store import get_engine, metadata
from ..store.copy import (
    continue_sequences,
    copy_rows,
    tables_holding_rows,
    unknown_tables,
)
from . import tables
from .audit import AuditLog, Head, Verdict, append_on, audit_dir, load_database_chain
from .records import admin_fields

# The database chain's tables: filled from the file chain, never copied as rows (SQLite's
# hold only the genesis head, which the target has too).
_CHAIN_TABLES = frozenset({tables.audit_records.name, tables.audit_head.name})


class MoveRefused(RuntimeError):
    """The move cannot start (nothing was written) or its result did not verify."""


@dataclass(frozen=True)
class StoreMove:
    source: str
    target: str
    rows: dict[str, int]
    audit_records: int
    head: Head

    def to_json(self) -> dict[str, Any]:
        return {
            "From": self.source, "To": self.target, "Rows": self.rows,
            "AuditRecords": self.audit_records, "Head": self.head.to_json(),
        }


def move_store(target_url: str) -> StoreMove:
    """Copy the configured embedded store and its audit chain into the empty PostgreSQL
    database at `target_url`, the move recorded as the last record of the target's chain in the
    same transaction.

    Refused, with nothing written, when the configured store is not embedded, when its chain
    does not verify, or when the target holds any row or audit record. The rows and the chain
    are written in one transaction: a failure leaves the target empty.
    """
    source_url, shown_target = settings().sqlalchemy_url, _shown(target_url)
    chain, verdict = _verified_source(source_url, target_url)
    _refuse_unless_empty(target_url)

    copied = _data_tables()
    source = get_engine(source_url)
    unknown = unknown_tables(source, metadata.sorted_tables)
    if unknown:
        raise MoveRefused(f"the store holds tables this version does not know: {unknown}")
    with get_engine(target_url).begin() as conn:
        # Holding the head row keeps out appends and other copies until this one commits.
        conn.execute(select(tables.audit_head.c.seq).with_for_update())
        _refuse_if_holding(conn, shown_target)
        rows = {each.name: copy_rows(source, conn, each) for each in copied}
        continue_sequences(conn, copied)
        load_database_chain(conn, islice(chain.lines(), verdict.records))
        # The move is recorded in the same transaction: a move that cannot be audited does not
        # happen (the target stays empty).
        (record,) = append_on(conn, [admin_fields(
            RequestContext.local(), "MoveStore", shown_target,
            {"From": _shown(source_url), "AuditLog": str(audit_dir()), "Rows": rows,
             "AuditRecords": verdict.records, "SourceHead": verdict.head.to_json()},
        )])

    # The copied chain must hold the source's records unchanged (its last one as an anchor).
    check = AuditLog(store_url=target_url).verify([verdict.head] if verdict.records else [])
    if not check.ok:
        raise MoveRefused(f"the copied audit chain does not verify: {check.problem}; the "
                          f"target now holds the copy: empty it before trying again")
    return StoreMove(_shown(source_url), shown_target, rows, verdict.records,
                     Head(record["seq"], record["hash"]))


def _verified_source(source_url: str, target_url: str) -> tuple[AuditLog, Verdict]:
    """The embedded store's file chain and its verdict, once both ends are the right kind and
    the chain verifies."""
    if not source_url.startswith("sqlite"):
        raise MoveRefused(f"the configured store is {_shown(source_url)}, not an embedded "
                          "(SQLite) one: run this with the single machine's settings")
    if not target_url.startswith("postgresql"):
        raise MoveRefused(f"the target must be a PostgreSQL URL, not {_shown(target_url)}")
    database = Path(make_url(source_url).database or "")
    if not database.is_file():
        raise MoveRefused(f"there is no embedded store at {database}")
    chain = AuditLog(audit_dir())
    verdict = chain.verify()
    if not verdict.ok:
        where = f" (line {verdict.bad_line})" if verdict.bad_line else ""
        raise MoveRefused(f"the audit chain in {audit_dir()} does not verify{where}: "
                          f"{verdict.problem}; a damaged chain is not moved")
    return chain, verdict


def _data_tables() -> list[Table]:
    """Every table of every domain, parents first. Each domain declares its tables in its own
    `tables` module; importing them all fills `metadata` (no list to keep in step)."""
    package = importlib.import_module("oversight")
    for found in pkgutil.iter_modules(package.__path__):
        name = f"{package.__name__}.{found.name}.tables"
        if found.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return [each for each in metadata.sorted_tables if each.name not in _CHAIN_TABLES]


def _refuse_unless_empty(target_url: str) -> None:
    """Refuse a target holding data before migrating it: the schema is not written to a
    database that is someone else's."""
    probe = create_engine(target_url)
    try:
        with probe.connect() as conn:
            _refuse_if_holding(conn, _shown(target_url))
    finally:
        probe.dispose()


def _refuse_if_holding(conn: Connection, shown_target: str) -> None:
    held = tables_holding_rows(conn, ignore=[tables.audit_head.name])
    if tables.audit_head.name in inspect(conn).get_table_names():
        seq = conn.scalar(select(tables.audit_head.c.seq))
        if seq:
            held.append(f"{tables.audit_head.name} (the chain's head is record {seq})")
    if held:
        raise MoveRefused(f"{shown_target} already holds data, in {', '.join(held)}: a store "
                          "is only copied into an empty database, never merged into a live one")


def _shown(url: str) -> str:
    """`url` without its password, as it may be printed and audited."""
    return make_url(url).render_as_string(hide_password=True)
