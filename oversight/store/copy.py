"""Copy the rows of the store's tables from one database into another, as stored.

`oversight store copy` moves an embedded (SQLite) store into PostgreSQL with these: the caller
picks the tables (in `metadata.sorted_tables` order, parents first) and holds the target
transaction, so a failure leaves the target as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Row,
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    inspect,
    select,
    table,
    type_coerce,
)
from sqlalchemy.exc import SQLAlchemyError

# Alembic's bookkeeping: the target's own migrations wrote it.
MIGRATIONS_TABLE = "alembic_version"


class CopyFailed(RuntimeError):
    """A table's rows could not be written to the target (the caller's transaction rolls back)."""


def tables_holding_rows(conn: Connection, ignore: Iterable[str] = ()) -> list[str]:
    """The tables of `conn`'s database that hold at least one row, besides Alembic's and
    `ignore` (whatever their schema: the database may not be migrated yet)."""
    skipped = {MIGRATIONS_TABLE, *ignore}
    return [
        name for name in inspect(conn).get_table_names()
        if name not in skipped
        and conn.execute(select(1).select_from(table(name)).limit(1)).first() is not None
    ]


def unknown_tables(engine: Engine, known: Iterable[Table]) -> list[str]:
    """Tables of `engine`'s database that `known` does not declare (their rows would be left
    behind by a copy of `known`)."""
    declared = {t.name for t in known} | {MIGRATIONS_TABLE}
    return sorted(set(inspect(engine).get_table_names()) - declared)


def copy_rows(source: Engine, target: Connection, copied: Table, batch_size: int = 1000) -> int:
    """Every row of `copied` from `source` into `target`, `batch_size` rows at a time (never
    the whole table in memory); returns how many. Keys are copied too (face seqs stay what the
    audit log and vector indexes know): see `continue_sequences`."""
    read = select(*(_stored(column) for column in copied.c)).order_by(*copied.primary_key)
    write = insert(copied).values({column.name: _bound(column) for column in copied.c})
    count = 0
    with source.connect() as conn:
        result = conn.execution_options(yield_per=batch_size).execute(read)
        for rows in result.partitions():
            try:
                target.execute(write, [_parameters(copied, row) for row in rows])
            except SQLAlchemyError as exc:
                raise CopyFailed(f"copying {copied.name}: {getattr(exc, 'orig', exc)}") from exc
            count += len(rows)
    return count


def continue_sequences(target: Connection, copied: Iterable[Table]) -> None:
    """Point each PostgreSQL serial column's sequence past the greatest key copied, so a new
    row never takes a copied one's key (a reused face seq would name another face in Milvus)."""
    for each in copied:
        column = each.autoincrement_column
        if column is None:
            continue
        highest = target.scalar(select(func.max(column)))
        if highest is not None:
            sequence = func.pg_get_serial_sequence(each.name, column.name)
            target.execute(select(func.setval(sequence, highest)))


def _is_json(column: Column) -> bool:
    return isinstance(column.type, JSON)


def _stored(column: Column) -> Any:
    # JSON as its stored text: decoding it would turn SQL NULL and JSON null into the same None.
    return type_coerce(column, Text).label(column.name) if _is_json(column) else column


def _bound(column: Column) -> Any:
    parameter = bindparam(f"p_{column.name}", type_=Text if _is_json(column) else column.type)
    return cast(parameter, column.type) if _is_json(column) else parameter


def _parameters(copied: Table, row: Row) -> dict[str, Any]:
    values = {}
    for column, value in zip(copied.c, row, strict=True):
        if (
            isinstance(value, datetime) and value.tzinfo is None
            and isinstance(column.type, DateTime) and column.type.timezone
        ):
            # SQLite keeps no zone; every time the store writes is UTC. Left naive, PostgreSQL
            # would read it in the session's time zone.
            value = value.replace(tzinfo=UTC)
        values[f"p_{column.name}"] = value
    return values
