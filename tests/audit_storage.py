"""The configured audit chain's storage, as someone with write access to it would touch it: the
file in the data directory (embedded) or the `audit_records` table (PostgreSQL). Tests edit,
drop or cut records through here, or make appends fail, whichever chain they run on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import delete, insert, text

from oversight.governance.audit import AuditLog
from oversight.governance.tables import audit_records
from oversight.store import engine_for, get_engine


def stored_lines() -> list[bytes]:
    """The chain's stored lines, byte for byte, in order."""
    return list(AuditLog().lines())


def store_lines(lines: list[bytes]) -> None:
    """Replace the stored lines (in the database, line N is the row of seq N, as line N of the
    file; the head is left as it is)."""
    log = AuditLog()
    if log.path is not None:
        log.path.write_bytes(b"".join(lines))
        return
    with get_engine().begin() as connection:
        connection.execute(delete(audit_records))
        if lines:
            connection.execute(insert(audit_records),
                               [{"seq": n, "line": line} for n, line in enumerate(lines, 1)])


_REFUSE = """
CREATE OR REPLACE FUNCTION oversight_test_refuse_append() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$;
CREATE TRIGGER oversight_test_refuse_append BEFORE INSERT ON audit_records
    FOR EACH ROW EXECUTE FUNCTION oversight_test_refuse_append();
"""
_ALLOW = """
DROP TRIGGER oversight_test_refuse_append ON audit_records;
DROP FUNCTION oversight_test_refuse_append();
"""


@contextmanager
def unwritable_audit_log(data_dir: Path, store_url: str) -> Iterator[None]:
    """Every append fails, as on a full, read-only or lost disk. The file chain (a SQLite
    `store_url`): a directory where the log file is (as root, chmod would not stop a write).
    PostgreSQL's: a trigger that refuses new `audit_records` rows with the server's error."""
    if store_url.startswith("postgresql"):
        engine = engine_for(store_url)
        try:
            with engine.begin() as connection:
                connection.execute(text(_REFUSE))
            try:
                yield
            finally:
                with engine.begin() as connection:
                    connection.execute(text(_ALLOW))
        finally:
            engine.dispose()
        return
    log = data_dir / "audit" / "audit.jsonl"
    saved = log.with_name("audit.jsonl.saved")
    log.parent.mkdir(parents=True, exist_ok=True)
    existed = log.exists()
    if existed:
        log.rename(saved)
    log.mkdir()
    try:
        yield
    finally:
        log.rmdir()
        if existed:
            saved.rename(log)
