"""The hash-chained audit log: verification after each kind of tampering, and concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from oversight.governance.audit import (
    GENESIS,
    AuditLog,
    AuditLogDamaged,
    Head,
    Verdict,
    parse_anchors,
    record_hash,
)


def _log_with(count: int, directory: Path) -> AuditLog:
    log = AuditLog(directory)
    for i in range(count):
        log.append({"kind": "operation", "operation": "SearchFaces", "n": i})
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def _write(log: AuditLog, lines: list[str]) -> None:
    # surrogateescape lets a test write bytes that are not UTF-8 ("\udcff" is byte 0xff).
    log.path.write_bytes("".join(lines).encode("utf-8", "surrogateescape"))


def test_untouched_log_verifies_and_chains(tmp_path: Path) -> None:
    log = _log_with(5, tmp_path)
    verdict = log.verify()
    assert verdict.ok and verdict.records == 5
    records = list(log.records())
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    for before, after in zip(records, records[1:], strict=False):
        assert after["prev"] == before["hash"] == record_hash(before)
    assert log.head() == Head(5, records[-1]["hash"]) == verdict.head


def test_empty_log_verifies(tmp_path: Path) -> None:
    assert AuditLog(tmp_path).verify().ok


def _tampered(directory: Path, count: int, mutate: Callable[[list[str]], None]) -> Verdict:
    """Write `count` records, let `mutate` change the list of lines, verify the result."""
    log = _log_with(count, directory)
    lines = _lines(log)
    mutate(lines)
    _write(log, lines)
    return log.verify()


def _changed(line: str, rehash: bool = False, **changes: object) -> str:
    record = {**json.loads(line), **changes}
    if rehash:
        record["hash"] = record_hash(record)
    return json.dumps(record, sort_keys=True) + "\n"


def test_edited_field_names_the_record(tmp_path: Path) -> None:
    def edit(lines: list[str]) -> None:
        lines[2] = _changed(lines[2], operation="DetectLabels")

    verdict = _tampered(tmp_path, 5, edit)
    assert not verdict.ok and verdict.bad_line == 3 and "edited" in verdict.problem


def test_edit_with_recomputed_hash_is_still_caught(tmp_path: Path) -> None:
    """Re-hashing the edited record breaks the link to the next one instead."""

    def edit(lines: list[str]) -> None:
        lines[1] = _changed(lines[1], rehash=True, purpose="nothing to see")

    verdict = _tampered(tmp_path, 5, edit)
    assert not verdict.ok and verdict.bad_line == 3


def test_deleted_line_names_the_record_after_it(tmp_path: Path) -> None:
    verdict = _tampered(tmp_path, 5, lambda lines: lines.pop(1))
    assert not verdict.ok and verdict.bad_line == 2
    assert "deleted, inserted or moved" in verdict.problem


def test_swapped_lines_are_caught(tmp_path: Path) -> None:
    def swap(lines: list[str]) -> None:
        lines[2], lines[3] = lines[3], lines[2]

    verdict = _tampered(tmp_path, 5, swap)
    assert not verdict.ok and verdict.bad_line == 3


def test_inserted_line_is_caught(tmp_path: Path) -> None:
    def insert(lines: list[str]) -> None:
        lines.insert(2, _changed(lines[1], rehash=True, operation="DeleteFaces"))

    verdict = _tampered(tmp_path, 4, insert)
    assert not verdict.ok and verdict.bad_line == 3


def test_garbage_bytes_are_named_not_crashed_on(tmp_path: Path) -> None:
    verdict = _tampered(tmp_path, 3, lambda lines: lines.insert(1, "\udcff junk\n"))
    assert not verdict.ok and verdict.bad_line == 2 and "not UTF-8" in verdict.problem
    log = AuditLog(tmp_path)
    assert len(list(log.records(skip_unreadable=True))) == 3


def test_truncated_records_are_caught_by_the_head(tmp_path: Path) -> None:
    log = _log_with(5, tmp_path)
    _write(log, _lines(log)[:3])
    verdict = log.verify()
    assert not verdict.ok and "truncated" in verdict.problem
    assert verdict.bad_line == 4
    # Nothing is chained onto a log that lost acknowledged records.
    with pytest.raises(AuditLogDamaged):
        log.append({"kind": "operation"})


def test_nothing_is_chained_onto_a_garbage_last_line(tmp_path: Path) -> None:
    log = _log_with(2, tmp_path)
    with open(log.path, "ab") as out:
        out.write(b'["not", "a record"]\n')
    with pytest.raises(AuditLogDamaged):
        log.append({"kind": "operation"})


def test_truncation_mid_record_is_caught(tmp_path: Path) -> None:
    log = _log_with(3, tmp_path)
    text = log.path.read_text()
    log.path.write_text(text[: len(text) - 20])
    verdict = log.verify()
    assert not verdict.ok and verdict.bad_line == 3 and "cut short" in verdict.problem


def test_truncation_with_a_matching_head_is_caught_by_an_external_anchor(tmp_path: Path) -> None:
    log = _log_with(5, tmp_path)
    anchor = log.head()
    _write(log, _lines(log)[:3])
    log.head_path.write_text(json.dumps({"seq": 3, "hash": list(log.records())[-1]["hash"]}))
    assert log.verify().ok  # the rewritten HEAD agrees with the shortened log ...
    verdict = log.verify([anchor])  # ... but not with the head anchored elsewhere
    assert not verdict.ok and "truncated" in verdict.problem


def test_rewritten_log_is_caught_by_the_head(tmp_path: Path) -> None:
    log = _log_with(3, tmp_path)
    forged = AuditLog(tmp_path / "forged")
    for i in range(3):
        forged.append({"kind": "operation", "operation": "DetectFaces", "n": i})
    _write(log, _lines(forged))
    verdict = log.verify()
    # HEAD is the only anchor: the rewrite is somewhere in 1..3, and verify says no more.
    assert not verdict.ok and verdict.rewritten == (1, 3) and verdict.bad_line is None


def _rechained_from(log: AuditLog, first: int, **changes: object) -> None:
    """Rewrite record `first` and re-chain every record after it and HEAD, as someone with
    write access to the data directory could: the log is consistent in itself."""
    records = list(log.records())
    for record in records[first - 1:]:
        if record["seq"] == first:
            record.update(changes)
        record["prev"] = records[record["seq"] - 2]["hash"] if record["seq"] > 1 else GENESIS
        record["hash"] = record_hash(record)
    _write(log, [json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records])
    log.head_path.write_text(json.dumps(log.head().to_json() | {"hash": records[-1]["hash"]}))


def test_anchored_verify_names_the_first_rewritten_record(tmp_path: Path) -> None:
    """Issue 12 finding 17: with an anchor, verify named the anchor, not the rewritten record."""
    log = _log_with(10, tmp_path)
    export = tmp_path / "export.jsonl"
    with export.open("wb") as out:
        log.export(out)
    anchors = [Head(4, list(log.records())[3]["hash"]), log.head()]
    _rechained_from(log, 6, purpose="rewritten")
    assert log.verify().ok  # HEAD was rewritten with the log

    # Two anchors: the rewrite lies after the one that matches, up to the one that does not.
    verdict = log.verify(anchors)
    assert not verdict.ok and verdict.rewritten == (5, 10) and verdict.bad_line is None
    assert "one of 5..10" in verdict.problem
    # An earlier export anchors every record: verify names record 6 itself.
    verdict = log.verify(parse_anchors(export.read_text()))
    assert not verdict.ok and verdict.rewritten == (6, 6) and verdict.bad_line == 6
    assert "record 6 was rewritten" in verdict.problem


def test_anchors_are_read_from_clearsigned_heads_and_exports(tmp_path: Path) -> None:
    log = _log_with(3, tmp_path)
    head = json.dumps(log.head().to_json(), indent=2)
    signed = f"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{head}\n-----BEGIN PGP SIG"
    assert parse_anchors(signed) == [log.head()]
    assert [a.seq for a in parse_anchors(log.path.read_text())] == [1, 2, 3]
    assert parse_anchors('{"seq": 0, "hash": "x"}\nnot json {') == []


def test_duplicated_key_fails_verification(tmp_path: Path) -> None:
    """Issue 12 finding 17: `{"purpose": "FORGED", ..., "purpose": "real"}` hashes like the real
    record (Python keeps the last value) but other readers show the first."""
    log = _log_with(1, tmp_path)
    log.append({"kind": "operation", "operation": "SearchFaces", "purpose": "real"})
    lines = _lines(log)
    lines[1] = '{"purpose": "FORGED", ' + lines[1][1:]
    assert json.loads(lines[1])["purpose"] == "real"  # what the hash covers
    _write(log, lines)
    verdict = log.verify()
    assert not verdict.ok and verdict.bad_line == 2
    assert "repeats the key 'purpose'" in verdict.problem


def test_reencoded_line_fails_verification(tmp_path: Path) -> None:
    """Same fields and hash in other bytes (escaped, re-spaced) is not what append wrote."""
    log = _log_with(3, tmp_path)
    lines = _lines(log)
    lines[2] = json.dumps(json.loads(lines[2]), sort_keys=True, indent=1).replace("\n", "") + "\n"
    _write(log, lines)
    verdict = log.verify()
    assert not verdict.ok and verdict.bad_line == 3 and "not the form" in verdict.problem


def test_missing_head_is_reported(tmp_path: Path) -> None:
    log = _log_with(2, tmp_path)
    log.head_path.unlink()
    verdict = log.verify()
    assert not verdict.ok and "missing" in verdict.problem


def _write_many(directory: str, writer: int, count: int) -> None:
    log = AuditLog(Path(directory))
    for i in range(count):
        log.append({"kind": "operation", "writer": writer, "n": i})


@pytest.mark.slow
def test_eight_concurrent_processes_and_threads_lose_nothing(tmp_path: Path) -> None:
    per_writer = 40
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_write_many, args=(str(tmp_path), w, per_writer)) for w in range(8)
    ]
    threads = [
        threading.Thread(target=_write_many, args=(str(tmp_path), 100 + w, per_writer))
        for w in range(8)
    ]
    for worker in [*processes, *threads]:
        worker.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    for thread in threads:
        thread.join(timeout=120)
    log = AuditLog(tmp_path)
    verdict = log.verify()
    assert verdict.ok, verdict.problem
    assert verdict.records == 16 * per_writer
    seen = {(r["writer"], r["n"]) for r in log.records()}
    assert len(seen) == 16 * per_writer
