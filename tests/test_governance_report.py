"""The transparency report and the governance CLI (policy, audit, report) run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oversight.cli import app
from oversight.collections import DeletionEvent
from oversight.errors import AccessDeniedException, InvalidSignatureException
from oversight.governance import audit, gate, refusals
from oversight.governance.policy import Policy, delete_policy, put_policy
from oversight.governance.receipts import write_receipt
from oversight.governance.records import base_fields, intent_fields
from oversight.governance.refusals import Refusal, RefusalLog
from oversight.governance.report import build_report, parse_bound
from oversight.governance.report_render import to_html, to_markdown
from oversight.operations.context import RequestContext
from tests.audit_storage import store_lines, stored_lines

KEY = "AKIAREPORTTEST000001"
CTX = RequestContext(account_id="123456789012", access_key_id=KEY, purpose="case 7")
MATCH = {"Similarity": 99.5, "Face": {"FaceId": "22222222-2222-2222-2222-222222222222"}}
runner = CliRunner()


def _activity() -> None:
    delete_policy(KEY)  # the searches below run unrestricted, then a policy refuses one
    search = {"CollectionId": "wanted", "FaceMatchThreshold": 99.0, "MaxFaces": 5}
    gate.governed(CTX, "SearchFacesByImage", search, lambda: {"FaceMatches": [MATCH]})
    gate.governed(CTX, "SearchFacesByImage", {"CollectionId": "wanted"},
                  lambda: {"FaceMatches": []})
    gate.governed(CTX, "DetectFaces", {}, lambda: {"FaceDetails": [{}, {}]})
    put_policy(Policy(KEY, min_match_threshold=99))
    with pytest.raises(AccessDeniedException):
        gate.admit(CTX, "SearchFacesByImage", {"CollectionId": "wanted"})
    write_receipt(DeletionEvent("123456789012", "wanted", [], "DeleteCollection",
                                collection_deleted=True, face_count=3))
    gate.audit_admin_event(CTX, "PutPolicy", KEY)
    # An intent is counted by its operation record, not on its own; refusals before the gate
    # (one recorded, two summarised) are counted apart from the requests that ran.
    audit.write(intent_fields(CTX, "IndexFaces", {"CollectionId": "wanted"}))
    refused = RefusalLog()
    for i in range(refusals.PER_REMOTE + 2):
        refused.record(Refusal(f"r{i}", "10.0.0.9", None, InvalidSignatureException("forged")))
    refused.flush()
    frame = base_fields(CTX, "stream_match")
    frame.update({"operation": "StreamProcessorMatch", "stream_processor": "lobby",
                  "matches": [{"face_id": "f", "similarity": 99.0, "track": 1}]})
    audit.write(frame)


def test_report_counts_what_the_log_says() -> None:
    _activity()
    report = build_report(parse_bound("2000-01-01"), parse_bound("2100-12-31", end=True))
    assert report["AuditLog"]["Valid"] is True
    assert report["Totals"] == {
        "Requests": 4, "Searches": 2, "Matches": 1, "LiveStreamMatches": 1, "PolicyRefusals": 1,
        "FacesDeleted": 3, "AdminChanges": 1, "RefusedBeforeAdmission": refusals.PER_REMOTE + 2,
        "ReviewCasesOpened": 0, "ReviewCasesConfirmed": 0, "ReviewCasesRejected": 0,
        "ReviewCasesExpired": 0, "MatchesRejectedByReviewers": "0 of 0",
    }
    (stream,) = report["LiveStreamMatches"]
    assert (stream["StreamProcessor"], stream["Frames"], stream["Matches"]) == ("lobby", 1, 1)
    (row,) = report["Searches"]
    assert (row["Key"], row["Purpose"], row["Searches"], row["Matches"]) == (KEY, "case 7", 2, 1)
    assert {(t["Threshold"], t["Searches"]) for t in report["Thresholds"]} == {
        ("99", 1), ("default (80)", 1)
    }
    assert report["PolicyRefusals"] == [{"Key": KEY, "Rule": "threshold", "Refusals": 1}]
    assert report["Deletions"] == [
        {"Reason": "DeleteCollection", "Collection": "wanted", "Faces": 3}
    ]
    html = to_html(report)
    assert html.count("<svg") == 4 and "verified" in html
    assert "| SearchFacesByImage | 3 | 1 |" in to_markdown(report)


def test_report_period_excludes_other_records() -> None:
    _activity()
    report = build_report(parse_bound("2000-01-01"), parse_bound("2000-12-31", end=True))
    assert report["Totals"]["Requests"] == 0 and report["Searches"] == []
    assert "None in this period." in to_markdown(report)


def test_report_states_a_failed_verification() -> None:
    _activity()
    lines = stored_lines()
    del lines[1]
    store_lines(lines)
    report = build_report(parse_bound("2000-01-01"), parse_bound("2100-01-01"))
    assert report["AuditLog"]["Valid"] is False
    assert "FAILED VERIFICATION" in to_html(report)


def test_cli_policy_audit_and_report(tmp_path: Path) -> None:
    done = runner.invoke(app, ["policy", "set", KEY, "--operation", "SearchFaces",
                               "--min-threshold", "99", "--require-purpose"])
    assert done.exit_code == 0, done.output
    shown = json.loads(runner.invoke(app, ["policy", "show", KEY]).output)
    assert shown["allowed_operations"] == ["SearchFaces"] and shown["require_purpose"] is True
    bad = runner.invoke(app, ["policy", "set", KEY, "--operation", "SearchFace"])
    assert bad.exit_code == 1

    _activity()
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and json.loads(verified.output)["Valid"] is True
    head = json.loads(runner.invoke(app, ["audit", "head"]).output)
    exported = tmp_path / "audit.jsonl"
    assert runner.invoke(app, ["audit", "export", "--out", str(exported)]).exit_code == 0
    assert exported.read_bytes() == b"".join(stored_lines())

    report = tmp_path / "report.html"
    done = runner.invoke(app, ["report", "--from", "2000-01-01", "--to", "2100-01-01",
                               "--format", "html", "--out", str(report)])
    assert done.exit_code == 0 and "<svg" in report.read_text()
    assert runner.invoke(app, ["report", "--from", "x", "--to", "y"]).exit_code != 0

    cut = exported.read_bytes()[:-30]
    store_lines(cut.splitlines(keepends=True))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "cut short" in broken.output
    against = runner.invoke(app, ["audit", "verify", "--seq", str(head["seq"]),
                                  "--hash", head["hash"]])
    assert against.exit_code == 1
