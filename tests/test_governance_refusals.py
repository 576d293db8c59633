"""Requests refused before the gate leave audit records (issue 12, finding 17): each one whose
signature verified, and unauthenticated ones up to a flood limit, the rest as counted summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from oversight.errors import (
    InvalidParameterException,
    InvalidSignatureException,
    ValidationException,
)
from oversight.governance import gate, refusals
from oversight.governance.audit import AuditLog
from oversight.governance.refusals import Refusal, RefusalLog
from oversight.operations.context import RequestContext
from tests.api_server import ApiServer, running_server, server_audit_log, signed_post


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _kinds() -> list[str]:
    return [r["kind"] for r in AuditLog().records()]


def test_unauthenticated_refusals_are_flood_limited_and_summarised() -> None:
    clock = _Clock()
    log = RefusalLog(clock)
    bad = InvalidSignatureException("no")
    for i in range(refusals.PER_REMOTE + 7):
        log.record(Refusal(f"r{i}", "10.0.0.1", "ListFaces", bad,
                           authorization="AWS4-HMAC-SHA256 Credential=AKIAAAAAAAAAAAAAAAAA/x"))
    # The key holder's own refusals are never suppressed.
    for i in range(refusals.PER_REMOTE + 2):
        log.record(Refusal(f"k{i}", "10.0.0.1", "ListFaces", ValidationException("bad"),
                           access_key_id="AKIAKEYHOLDER0000001", account_id="123456789012"))
    records = list(AuditLog().records())
    unauthenticated = [r for r in records if r["key"] is None]
    assert len(unauthenticated) == refusals.PER_REMOTE
    assert unauthenticated[0]["claimed_key"] == "AKIAAAAAAAAAAAAAAAAA"
    assert sum(r["key"] == "AKIAKEYHOLDER0000001" for r in records) == refusals.PER_REMOTE + 2

    clock.now += refusals.WINDOW_SECONDS  # the next refusal closes the window
    log.record(Refusal("late", "10.0.0.2", None, bad))
    summary = next(r for r in AuditLog().records() if r["kind"] == "refused_summary")
    assert summary["count"] == 7
    assert summary["by_remote"] == {"10.0.0.1": {"InvalidSignatureException": 7}}
    log.flush()  # nothing suppressed since: no second summary
    assert _kinds().count("refused_summary") == 1 and AuditLog().verify().ok


def test_all_unauthenticated_addresses_share_a_cap() -> None:
    log = RefusalLog(_Clock())
    for i in range(refusals.UNAUTHENTICATED_CAP + 30):
        log.record(Refusal(f"r{i}", f"10.1.{i // 250}.{i % 250}", None,
                           InvalidSignatureException("no")))
    assert _kinds().count("refused") == refusals.UNAUTHENTICATED_CAP
    log.flush()
    (summary,) = [r for r in AuditLog().records() if r["kind"] == "refused_summary"]
    assert summary["count"] == 30


@pytest.mark.parametrize("purpose", ["caf\u00e9", "line\nbreak", "x" * 600])
def test_an_invalid_purpose_is_audited_with_the_key(purpose: str) -> None:
    ctx = RequestContext("123456789012", "AKIAKEYHOLDER0000001", purpose=purpose)
    with pytest.raises(InvalidParameterException):
        gate.governed(ctx, "ListCollections", {}, lambda: {})
    (record,) = AuditLog().records()
    assert (record["key"], record["outcome"]) == (ctx.access_key_id, "InvalidParameterException")
    assert record["purpose"] == purpose[:512]


def _post(server: ApiServer, body: bytes, target: str, headers: dict[str, str]) -> Any:
    return httpx.post(f"{server.url}/", content=body, timeout=60, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target, **headers})


@pytest.mark.slow  # starts a server of its own
def test_refusals_before_the_gate_are_audited_over_http(tmp_path: Path) -> None:
    forged = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/20260101/"
              "us-east-1/rekognition/aws4_request, SignedHeaders=host, Signature=00"}
    with running_server(tmp_path) as server:
        answers = {
            "unknown key": _post(server, b"{}", "RekognitionService.ListCollections", forged),
            "unsigned": _post(server, b"{}", "RekognitionService.ListCollections", {}),
            "unknown operation": _post(server, b"{}", "RekognitionService.StealFaces", {}),
            # Signed by a real key: the key holder's refusals, each recorded with the key.
            "malformed body": signed_post(server, b"{not json", "RekognitionService.ListFaces"),
            "invalid parameter": signed_post(
                server, json.dumps({"CollectionId": 5}).encode(), "RekognitionService.ListFaces",
                headers={"X-Oversight-Purpose": "case 12"}),
        }
        for _ in range(refusals.PER_REMOTE + 3):  # a flood of forgeries from one address
            _post(server, b"{}", "RekognitionService.DeleteCollection", forged)
    log = server_audit_log(server)
    by_request = {r.get("request_id"): r for r in log.records()}
    for case, answer in answers.items():
        assert 400 <= answer.status_code < 500, (case, answer.text)
        record = by_request[answer.headers["x-amzn-RequestId"]]
        assert record["kind"] == "refused" and record["outcome"] == answer.json()["__type"], case
    signed = by_request[answers["invalid parameter"].headers["x-amzn-RequestId"]]
    assert (signed["key"], signed["purpose"], signed["operation"]) == (
        server.access_key_id, "case 12", "ListFaces")
    assert by_request[answers["unknown key"].headers["x-amzn-RequestId"]]["claimed_key"] == (
        "AKIANOSUCHKEY0000000")
    # 3 unauthenticated answers above + the flood: PER_REMOTE recorded, the rest summarised
    # when the server stopped.
    records = list(log.records())
    unauthenticated = [r for r in records if r["kind"] == "refused" and r["key"] is None]
    (summary,) = [r for r in records if r["kind"] == "refused_summary"]
    assert len(unauthenticated) == refusals.PER_REMOTE
    assert summary["count"] == 3 + refusals.PER_REMOTE + 3 - refusals.PER_REMOTE
    assert log.verify().ok
