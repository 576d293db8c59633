"""The hash-chained, append-only audit log: `<data dir>/audit/audit.jsonl` plus its `HEAD` file,
or, when the store is PostgreSQL (cluster mode), the `audit_records` table plus its `audit_head`
row, one chain for every node.

Each line is one JSON record carrying `seq`, `prev` (the previous record's hash) and `hash`
(sha256 over the record's canonical JSON without `hash`). Editing, deleting, inserting or
reordering a line breaks the chain at that line; cutting records off the end is caught by `HEAD`,
which names the last acknowledged record (anchor it outside this machine: docs/ACCOUNTABILITY.md).

File appends hold an exclusive `fcntl` lock on the log (so processes interleave whole records,
never lines) and fsync before returning; database appends lock the head row and commit: either
way a record reported written survives a crash. Threads of one process share each flush or
commit (group commit).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..config import settings
from ..errors import InternalServerError
from . import tables

GENESIS = "0" * 64
LOG_NAME = "audit.jsonl"
HEAD_NAME = "HEAD"
_BLOCK = 4096
_HASH = re.compile(r"[0-9a-f]{64}")

Record = dict[str, Any]

@dataclass
class _Pending:
    fields: Record
    record: Record | None = None
    error: BaseException | None = None


class _GroupCommit:
    """Threads of one process appending to one log: one writer at a time writes every record
    queued meanwhile with a single fsync (or commit), so concurrent requests share it. A thread
    whose record a writer took waits only for that writer, never for the next one."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.queue: list[_Pending] = []
        self.writing = False


_commits: dict[str, _GroupCommit] = {}
_commits_lock = threading.Lock()


def _group_commit(chain: str) -> _GroupCommit:
    with _commits_lock:
        return _commits.setdefault(chain, _GroupCommit())


class AuditLogDamaged(RuntimeError):
    """The log no longer matches its HEAD; nothing more is written until an operator looks."""


def canonical(record: Record) -> bytes:
    """The bytes a record's hash covers: sorted keys, no whitespace, UTF-8."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Record) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    head: Head
    problem: str | None = None
    # 1-based line number of the first record that fails, when one does.
    bad_line: int | None = None
    # Records (first, last) among which the first rewritten one lies, when anchors show a
    # re-chained rewrite (first == last when they name it).
    rewritten: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Valid": self.ok, "Records": self.records, "Head": self.head.to_json()
        }
        if self.problem:
            out["Problem"] = self.problem
        if self.bad_line is not None:
            out["Line"] = self.bad_line
        if self.rewritten is not None:
            out["FirstRewritten"] = {"From": self.rewritten[0], "To": self.rewritten[1]}
        return out


def audit_dir() -> Path:
    return settings().data_dir / "audit"


class _FileChain:
    """`<directory>/audit.jsonl` and its HEAD file; appends hold an exclusive flock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOG_NAME
        self.head_path = directory / HEAD_NAME
        self.head_name = str(self.head_path)

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The log open for appending, under an exclusive flock (other processes wait)."""
        # Only the server's user may read the log (docs/ACCOUNTABILITY.md, "Who can see it").
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the flock

    def write(self, batch: list[Record]) -> list[Record]:
        with self._locked() as fd:
            last = _last_record(fd)
            self._check_tail(last)
            records = _chained(batch, last)
            _write_all(fd, b"".join(_stored_form(r) for r in records))
            os.fsync(fd)
            self._write_head(Head(records[-1]["seq"], records[-1]["hash"]))
        return records

    def _check_tail(self, last: Record | None) -> None:
        """Refuse to chain onto a log that lost acknowledged records (fail closed, never paper
        over tampering by writing a fresh HEAD)."""
        head = self.head()
        seq, digest = (last["seq"], last["hash"]) if last else (0, GENESIS)
        # seq > head.seq is a crash between the log write and the HEAD write: harmless.
        if seq < head.seq or (seq == head.seq and digest != head.hash):
            raise AuditLogDamaged(
                f"the audit log ends at record {seq} but HEAD names record {head.seq} "
                f"({head.hash[:12]}...): run `oversight audit verify`"
            )

    def _write_head(self, head: Head) -> None:
        # Not fsynced: the record itself is. After a crash HEAD may lag the log, which verify
        # and append accept (HEAD is a lower bound); it halves the cost of an append.
        tmp = self.head_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(head.to_json()))
        os.replace(tmp, self.head_path)

    def has_head(self) -> bool:
        return self.head_path.exists()

    def head(self) -> Head:
        try:
            data = json.loads(self.head_path.read_text())
            return Head(int(data["seq"]), str(data["hash"]))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return Head(0, GENESIS)

    def lines(self) -> Iterator[bytes]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as log:
            yield from log


class _DatabaseChain:
    """The chain in PostgreSQL, shared by every node: `audit_records` holds each record's line
    (the bytes the file chain would hold), `audit_head` one row naming the last record. An
    append locks that row (SELECT ... FOR UPDATE), so appends of all nodes form one sequence;
    a node's concurrent requests share one transaction (group commit)."""

    head_name = "the audit_head row"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, batch: list[Record]) -> list[Record]:
        with self.engine.begin() as conn:
            return append_on(conn, batch)

    def _head_row(self) -> Row | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(tables.audit_head.c.seq, tables.audit_head.c.hash).where(
                    tables.audit_head.c.id == 1
                )
            ).first()

    def has_head(self) -> bool:
        return self._head_row() is not None

    def head(self) -> Head:
        row = self._head_row()
        return Head(0, GENESIS) if row is None else Head(int(row.seq), str(row.hash))

    def lines(self) -> Iterator[bytes]:
        with self.engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=1000).execute(
                select(tables.audit_records.c.line).order_by(tables.audit_records.c.seq)
            )
            for (line,) in rows:
                yield bytes(line)


def append_on(conn: Connection, batch: list[Record]) -> list[Record]:
    """Chain `batch` onto the database chain in the caller's transaction (committed with it,
    or not at all); returns the stored records."""
    head, last = tables.audit_head, tables.audit_records
    row = conn.execute(
        select(head.c.seq, head.c.hash).where(head.c.id == 1).with_for_update()
    ).first()
    if row is None:
        raise AuditLogDamaged("the audit_head row is missing: run `oversight audit verify`")
    # The record the head names must exist and carry its hash, else records were cut (fail
    # closed). Read after the lock is held: a statement that waited for the lock would still
    # see the table as it was before the previous holder committed.
    line = conn.execute(select(last.c.line).where(last.c.seq == row.seq)).scalar_one_or_none()
    previous = _parse_or_none(line, row.seq) if row.seq else None
    if row.seq and (previous is None or previous.get("hash") != row.hash):
        raise AuditLogDamaged(
            f"the audit chain's head names record {row.seq} ({row.hash[:12]}...), which "
            "the audit_records table does not hold: run `oversight audit verify`"
        )
    records = _chained(batch, previous)
    conn.execute(insert(last), [{"seq": r["seq"], "line": _stored_form(r)} for r in records])
    conn.execute(
        update(head).where(head.c.id == 1)
        .values(seq=records[-1]["seq"], hash=records[-1]["hash"])
    )
    return records


def load_database_chain(conn: Connection, lines: Iterable[bytes], batch_size: int = 1000) -> Head:
    """Store `lines`, a chain verified where it was kept before (`oversight store copy`), as
    the database chain on `conn`, whose chain must be empty: each line byte for byte under its
    seq, then audit_head names the last. Runs in the caller's transaction, which the caller
    commits (or rolls back: the chain stays empty)."""
    head, batch = Head(0, GENESIS), []
    for number, line in enumerate(lines, start=1):
        record = _parse(line, number)
        head = Head(record["seq"], record["hash"])
        batch.append({"seq": head.seq, "line": line})
        if len(batch) == batch_size:
            conn.execute(insert(tables.audit_records), batch)
            batch = []
    if batch:
        conn.execute(insert(tables.audit_records), batch)
    moved = conn.execute(
        update(tables.audit_head).where(tables.audit_head.c.id == 1)
        .values(seq=head.seq, hash=head.hash)
    )
    if moved.rowcount != 1:
        raise AuditLogDamaged("the audit_head row is missing: run `oversight audit verify`")
    return head


def _parse_or_none(line: bytes | None, seq: int) -> Record | None:
    try:
        return None if line is None else _parse(bytes(line), seq)
    except ValueError:
        return None


def _chained(batch: list[Record], last: Record | None) -> list[Record]:
    """`batch`'s fields chained after `last` (None: the genesis): seq, prev and hash set."""
    records = []
    for record in batch:
        record["seq"] = last["seq"] + 1 if last else 1
        record["prev"] = last["hash"] if last else GENESIS
        record["hash"] = record_hash(record)
        records.append(record)
        last = record
    return records


def _chain_beside(store_url: str, directory: Path) -> _FileChain | _DatabaseChain:
    """PostgreSQL's chain when the store is PostgreSQL (one chain for every node), else the
    file in `directory`."""
    if store_url.startswith("postgresql"):
        from ..store import get_engine

        return _DatabaseChain(get_engine(store_url))
    return _FileChain(directory)


class AuditLog:
    """The audit chain: the configured one by default; the file in `directory` when only that
    is given; the chain kept beside the store at `store_url` (its PostgreSQL tables, or else
    the file in `directory`) when that is given, as another process's store is read."""

    def __init__(self, directory: Path | None = None, store_url: str | None = None) -> None:
        if directory is None and store_url is None:
            self._chain = _chain_beside(settings().sqlalchemy_url, audit_dir())
        else:
            self._chain = _chain_beside(store_url or "", directory or audit_dir())
        file_chain = self._chain if isinstance(self._chain, _FileChain) else None
        # The file chain's paths (None for the database chain).
        self.path = file_chain.path if file_chain else None
        self.head_path = file_chain.head_path if file_chain else None
        self._commit_key = (
            str(file_chain.path.resolve()) if file_chain else str(self._chain.engine.url)
        )

    def append(self, fields: Record) -> Record:
        """Chain `fields` onto the log durably and return the stored record (with seq and hash)."""
        commit = _group_commit(self._commit_key)
        mine = _Pending(dict(fields))
        batch: list[_Pending] = []
        with commit.changed:
            commit.queue.append(mine)
            while commit.writing and mine.record is None and mine.error is None:
                commit.changed.wait()
            if mine.record is None and mine.error is None:
                # No write in progress, and ours not written yet: write all that is queued.
                commit.writing = True
                batch, commit.queue = commit.queue, []
        if batch:
            try:
                self._write_batch(batch)
            finally:
                with commit.changed:
                    commit.writing = False
                    commit.changed.notify_all()
        if mine.error is not None:
            raise mine.error
        assert mine.record is not None
        return mine.record

    def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            records = self._chain.write([pending.fields for pending in batch])
        except BaseException as exc:
            for pending in batch:
                pending.error = exc
            return
        for pending, record in zip(batch, records, strict=True):
            pending.record = record

    def head(self) -> Head:
        """The last acknowledged record as HEAD names it; genesis when HEAD is absent or was
        cut short by a crash (verify reports a missing HEAD)."""
        return self._chain.head()

    def lines(self) -> Iterator[bytes]:
        """The stored lines, byte for byte, in order."""
        return self._chain.lines()

    def records(self, skip_unreadable: bool = False) -> Iterator[Record]:
        """Every record in order. A line that is not a JSON object raises ValueError, or is
        passed over with `skip_unreadable` (a report still runs on a damaged log; verify
        names the damage)."""
        for number, line in enumerate(self.lines(), start=1):
            try:
                yield _parse(line, number)
            except ValueError:
                if not skip_unreadable:
                    raise

    def export(
        self, target: BinaryIO, start: datetime | None = None, end: datetime | None = None
    ) -> int:
        """Copy the lines stamped in [start, end) to `target` unchanged; returns how many.

        A line whose time cannot be read is copied too: it is evidence, not noise.
        """
        written = 0
        for number, line in enumerate(self.lines(), start=1):
            try:
                moment = record_time(_parse(line, number))
            except ValueError:
                moment = None
            if moment is not None and (
                (start is not None and moment < start) or (end is not None and moment >= end)
            ):
                continue
            target.write(line)
            written += 1
        return written

    def verify(self, anchors: Sequence[Head] = ()) -> Verdict:
        """Walk the chain; the first broken link names the record.

        Each anchor (a head seen elsewhere, or every record of an earlier export) must match the
        record of its seq, and so must HEAD. A re-chained rewrite is consistent in itself, so
        only those reveal it, and only to their resolution: the first rewritten record lies
        after the last anchor that matches and at or before the first that does not (one record
        apart when verifying against an export).
        """
        expected: dict[int, str] = {}
        for anchor in anchors:
            if expected.setdefault(anchor.seq, anchor.hash) != anchor.hash:
                return Verdict(False, 0, Head(0, GENESIS),
                               f"two anchors give record {anchor.seq} different hashes")
        head = self.head() if self._chain.has_head() else None
        prev, seq, matched = GENESIS, 0, [0]
        for number, line in enumerate(self.lines(), start=1):
            problem = _check_line(line, number, prev, seq)
            if problem:
                return Verdict(False, seq, Head(seq, prev), problem, number)
            record = json.loads(line)
            prev, seq = record["hash"], record["seq"]
            if seq in expected:
                if expected[seq] != prev:
                    return _rewritten(Head(seq, prev), matched[-1], seq, "its anchor")
                matched.append(seq)
            if head is not None and seq == head.seq and head.hash != prev:
                earlier = max(s for s in matched if s < seq)
                return _rewritten(Head(seq, prev), earlier, seq, "HEAD")
        last = Head(seq, prev)
        if not anchors and seq and head is None:
            return Verdict(
                False, seq, last, f"{self._chain.head_name} is missing: the log cannot be checked "
                "for truncation; verify against an anchored head (--seq/--hash)", None,
            )
        furthest = max([*expected, head.seq if head else 0])
        if furthest > seq:
            return Verdict(
                False, seq, last,
                f"log truncated: it ends at record {seq} but "
                f"{'HEAD' if head and head.seq == furthest else 'an anchor'} names record "
                f"{furthest}; records {seq + 1}..{furthest} are missing",
                seq + 1,
            )
        return Verdict(True, seq, last)


def _rewritten(last: Head, matched: int, bad: int, reference: str) -> Verdict:
    """The verdict when record `bad` differs from `reference` and record `matched` (0: none)
    was the last one found equal to its anchor. In a valid chain record N is on line N."""
    if matched == bad - 1:
        return Verdict(
            False, bad, last,
            f"record {bad} was rewritten: it does not match {reference}"
            + (f", and record {matched} before it matches its anchor" if matched else ""),
            bad, (bad, bad),
        )
    return Verdict(
        False, bad, last,
        f"the log was rewritten: record {bad} does not match {reference} and "
        + (f"record {matched} matches its anchor, so" if matched else
           "no earlier record was anchored, so")
        + f" the first rewritten record is one of {matched + 1}..{bad} (anchor more often, "
        "or verify against an earlier export, to name it)",
        None, (matched + 1, bad),
    )


def parse_anchors(text: str) -> list[Head]:
    """Every anchor in `text`: the `oversight audit head` objects it holds (also inside a
    clearsigned file) and every record of an exported log, each as (seq, hash)."""
    decoder = json.JSONDecoder()
    anchors, end = [], 0
    for start in re.finditer(r"^[ \t]*\{", text, re.MULTILINE):
        if start.start() < end:
            continue  # inside an object already read
        try:
            found, end = decoder.raw_decode(text, start.end() - 1)
        except ValueError:
            continue
        if (
            isinstance(found, dict) and type(found.get("seq")) is int and found["seq"] > 0
            and isinstance(found.get("hash"), str) and _HASH.fullmatch(found["hash"])
        ):
            anchors.append(Head(found["seq"], found["hash"]))
    return anchors


def record_time(record: Any) -> datetime | None:
    """When a record was written, or None when it carries no readable time."""
    try:
        return datetime.fromisoformat(record["time"])
    except (KeyError, TypeError, ValueError):
        return None


def write(fields: Record) -> Record:
    """Append to the configured log; a failure is the server's (InternalServerError), and the
    caller must not go on as if the event had been recorded."""
    try:
        return AuditLog().append(fields)
    except (AuditLogDamaged, OSError, SQLAlchemyError) as exc:
        raise InternalServerError(f"the audit log cannot be written: {exc}") from exc


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> Record:
    """An object with each key once: with a key twice, readers disagree on its value (Python
    keeps the last, others the first), so a forged value could hide behind the hashed one."""
    record: Record = {}
    for key, value in pairs:
        if key in record:
            raise _DuplicateKey(key)
        record[key] = value
    return record


def _parse(line: bytes, number: int) -> Record:
    try:
        record = json.loads(line.decode("utf-8"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        raise ValueError(f"line {number} is not UTF-8 text") from exc
    except _DuplicateKey as exc:
        raise ValueError(f"line {number} repeats the key {str(exc)[:80]!r}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {number} is not JSON: {exc.msg}") from exc
    if not isinstance(record, dict):
        raise ValueError(f"line {number} is not a JSON object")
    return record


def _stored_form(record: Record) -> bytes:
    """The exact bytes `append` writes for `record` (one line)."""
    return (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _check_line(line: bytes, number: int, prev: str, seq: int) -> str | None:
    """Why line `number` does not continue a chain ending at (`seq`, `prev`), or None."""
    if not line.endswith(b"\n"):
        return f"line {number} is cut short (no line end): the log was truncated mid-record"
    try:
        record = _parse(line, number)
    except ValueError as exc:
        return str(exc)
    if record.get("hash") != record_hash(record):
        return f"line {number} (record {record.get('seq')}) was edited: its hash does not match"
    if line != _stored_form(record):
        # Same hash, other bytes (escapes, spacing, key order): not what append wrote.
        return (f"line {number} (record {record.get('seq')}) was edited: its fields hash "
                "correctly but the line is not the form Oversight writes")
    if record.get("prev") != prev:
        return (
            f"line {number} (record {record.get('seq')}) does not follow record {seq}: a record "
            "before it was deleted, inserted or moved"
        )
    if record.get("seq") != seq + 1:
        return f"line {number} has seq {record.get('seq')}, expected {seq + 1}"
    return None


def _last_record(fd: int) -> Record | None:
    """The last complete record of the log open at `fd`, cutting away a torn final line.

    A torn line can only come from a crash mid-write, before fsync returned, so that record was
    never acknowledged to anyone.
    """
    size = os.lseek(fd, 0, os.SEEK_END)
    data, pos = b"", size
    # Read backwards until the last complete line is whole: two line ends, or the file start.
    while pos > 0 and data.count(b"\n") < 2:
        step = min(_BLOCK, pos)
        pos -= step
        data = os.pread(fd, step, pos) + data
    body, newline, torn = data.rpartition(b"\n")
    if torn:
        os.ftruncate(fd, size - len(torn))
    if not newline:
        return None
    try:
        last = _parse(body.rsplit(b"\n", 1)[-1], 0)
    except ValueError:
        last = {}
    if not (isinstance(last.get("seq"), int) and isinstance(last.get("hash"), str)):
        raise AuditLogDamaged("the last line of the audit log is not a record: run "
                              "`oversight audit verify`")
    return last
