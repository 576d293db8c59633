"""Governance as one choke point (issue 12): the catalog drives the gate, and every row of it is
run here against a policy that forbids it.

For each served operation and extension, a request reaching a collection, a threshold, a match
count, a live search and ARNs (from the request or from stored state: a processor, a video job,
a tag ARN) is refused by a policy forbidding each clause the row declares, the refusal is
audited, and nothing runs. In-process, through `gate.governed`, the function every caller uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oversight.config import settings
from oversight.errors import AccessDeniedException
from oversight.governance import gate
from oversight.governance.audit import AuditLog
from oversight.governance.catalog import (
    ROWS,
    ArnsAt,
    BucketAt,
    CollectionAt,
    LiveSearchAt,
    MaxResultsAt,
    Row,
    StoredCase,
    StoredJob,
    StoredProcessor,
    TaggedResource,
    ThresholdAt,
    governed_operations,
)
from oversight.governance.policy import Policy, put_policy
from oversight.operations import registry
from oversight.operations.context import RequestContext
from oversight.review.cases import NewCase, open_case
from oversight.store import get_engine
from oversight.video.jobs import JobStore
from oversight.video.processors import ProcessorStore

ACCOUNT, OTHER_ACCOUNT = "123456789012", "210987654321"
KEY = "AKIACHOKEPOINTTEST01"
CTX = RequestContext(account_id=ACCOUNT, access_key_id=KEY, purpose="case 12")
FORBIDDEN, ALLOWED = "forbidden-collection", "allowed-collection"
LOW_THRESHOLD = 85.0


def _arn(service: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:us-east-1:{account}:{resource}"


def _arns(account: str) -> dict[tuple[str, ...], str]:
    return {
        ("Input", "KinesisVideoStream", "Arn"): _arn("kinesisvideo", account, "stream/cam/1"),
        ("Output", "KinesisDataStream", "Arn"): _arn("kinesis", account, "stream/matches"),
        ("NotificationChannel", "SNSTopicArn"): _arn("sns", account, "topic"),
        ("RoleArn",): f"arn:aws:iam::{account}:role/oversight",
        ("NotificationChannel", "RoleArn"): f"arn:aws:iam::{account}:role/oversight",
    }


def _put(request: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        request = request.setdefault(key, {})
    request.setdefault(path[-1], value)


def _definition(account: str) -> dict[str, Any]:
    definition: dict[str, Any] = {"Settings": {"FaceSearch": {
        "CollectionId": FORBIDDEN, "FaceMatchThreshold": LOW_THRESHOLD}}}
    for path, arn in _arns(account).items():
        if path != ("NotificationChannel", "RoleArn"):
            _put(definition, path, arn)
    return definition


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A processor, a face-search job and a review case of the caller's account, all reaching
    the forbidden collection (the first two at a low threshold); a processor whose stored ARNs
    are another account's; the caller's own ARNs and bucket mapped by the operator."""
    mapped = [arn for path, arn in _arns(ACCOUNT).items() if "RoleArn" not in path]
    monkeypatch.setenv("OVERSIGHT_ENDPOINT_MAP", " ".join(f"{arn}=http://127.0.0.1:9/x"
                                                          for arn in mapped))
    monkeypatch.setenv("OVERSIGHT_S3_BUCKET_ACCOUNTS", f"videos={ACCOUNT}")
    settings.cache_clear()
    processors = ProcessorStore(get_engine())
    processors.create(ACCOUNT, "watcher", _definition(ACCOUNT), None, None)
    processors.create(ACCOUNT, "foreign", _definition(OTHER_ACCOUNT), None, None)
    job, _ = JobStore(get_engine()).create(
        ACCOUNT, "StartFaceSearch",
        {"CollectionId": FORBIDDEN, "FaceMatchThreshold": LOW_THRESHOLD}, {"S3Object": {}})
    case = open_case(NewCase(
        account_id=ACCOUNT, requester_key="AKIASOMEONEELSE00001", purpose=None,
        operation="SearchFaces", request_id=None, collection_id=FORBIDDEN, withheld={},
        candidates=[], probe_crop=None, probe_source=None, reviewers_required=1,
        expires_at=datetime.now(UTC) + timedelta(hours=1)), lambda _: None)
    return {"processor": "watcher", "foreign_processor": "foreign", "job": job.job_id,
            "case": case}


def _request(row: Row, stored: dict[str, str], account: str = ACCOUNT) -> dict[str, Any]:
    """A request for `row` reaching everything its resolvers read: the forbidden collection, a
    low threshold, 10 matches, a live search, ARNs and a bucket of `account`."""
    request: dict[str, Any] = {}
    for resolver in row.resolvers:
        if isinstance(resolver, CollectionAt):
            _put(request, resolver.path, FORBIDDEN)
        elif isinstance(resolver, ThresholdAt):
            _put(request, resolver.path, LOW_THRESHOLD)
        elif isinstance(resolver, MaxResultsAt):
            request[resolver.name] = 10
        elif isinstance(resolver, LiveSearchAt):
            _put(request, resolver.path, {})
        elif isinstance(resolver, ArnsAt):
            for path, _, _ in resolver.paths:
                _put(request, path, _arns(account)[path])
        elif isinstance(resolver, BucketAt):
            _put(request, resolver.path, "videos" if account == ACCOUNT else "their-videos")
        elif isinstance(resolver, StoredProcessor):
            name = stored["processor" if account == ACCOUNT else "foreign_processor"]
            request[resolver.member] = name
        elif isinstance(resolver, StoredJob):
            request[resolver.member] = stored["job"]
        elif isinstance(resolver, StoredCase):
            request["CaseId"] = stored["case"]
        elif isinstance(resolver, TaggedResource):
            request[resolver.member] = _arn("rekognition", account, f"collection/{FORBIDDEN}")
        else:
            raise AssertionError(f"no example for {resolver!r}: teach this test the resolver")
    return request


def _must_not_run() -> dict[str, Any]:
    raise AssertionError("a refused operation ran")


def _refused_and_audited(
    row: Row, request: dict[str, Any], rule: str, ctx: RequestContext = CTX
) -> None:
    with pytest.raises(AccessDeniedException) as caught:
        gate.governed(ctx, row.operation, request, _must_not_run)
    assert getattr(caught.value, "rule", None) == rule, (row.operation, caught.value.message)
    last = list(AuditLog().records())[-1]
    assert (last["operation"], last["outcome"], last["refused_by"]) == (
        row.operation, "AccessDeniedException", rule)
    assert (last["key"], last["account"]) == (KEY, ctx.account_id)


# (policy clause, the policy forbidding it, the refusal's rule)
CLAUSES: list[tuple[str, Callable[[Row], Policy], str]] = [
    ("operation", lambda row: Policy(
        KEY, allowed_operations=[op for op in governed_operations() if op != row.operation]),
     "operation"),
    ("purpose", lambda row: Policy(KEY, require_purpose=True), "purpose"),
    ("collection", lambda row: Policy(KEY, allowed_collections=[ALLOWED]), "collection"),
    ("threshold", lambda row: Policy(KEY, min_match_threshold=99), "threshold"),
    ("max_faces", lambda row: Policy(KEY, max_faces=5), "max_faces"),
    ("stream_search", lambda row: Policy(KEY, allow_stream_search=False), "stream_search"),
]


def test_every_registered_operation_has_a_row() -> None:
    """No operation can be added ungoverned: a handler without a catalog row fails here."""
    missing = sorted(set(registry()) - set(governed_operations()))
    assert missing == [], f"operations without a governance row: {missing}"


def test_an_operation_without_a_row_is_refused_and_audited() -> None:
    row = Row("NotInTheCatalog")
    _refused_and_audited(row, {}, "ungoverned")


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.operation)
def test_every_row_is_refused_by_each_clause_it_declares(
    row: Row, stored: dict[str, str]
) -> None:
    request = _request(row, stored)
    ran = []
    gate.governed(CTX, row.operation, request, lambda: ran.append(1) or {})
    assert ran == [1], "with no policy, the example request must be admitted"
    for clause, policy, rule in CLAUSES:
        if clause not in row.clauses or (clause == "collection" and row.response_filter):
            continue
        put_policy(policy(row))
        ctx = CTX if clause != "purpose" else RequestContext(ACCOUNT, KEY, purpose=None)
        _refused_and_audited(row, request, rule, ctx)


@pytest.mark.parametrize(
    "row", [row for row in ROWS if "account" in row.clauses], ids=lambda row: row.operation
)
def test_every_arn_and_bucket_of_another_account_is_refused(
    row: Row, stored: dict[str, str]
) -> None:
    """Finding 1: whatever the policy (here none), a request reaching another account's camera,
    data stream, topic, role, collection ARN, processor or bucket is refused."""
    _refused_and_audited(row, _request(row, stored, OTHER_ACCOUNT), "account")


def test_unmapped_endpoint_arns_are_refused(stored: dict[str, str]) -> None:
    row = next(row for row in ROWS if row.operation == "CreateStreamProcessor")
    request = _request(row, stored)
    request["Input"]["KinesisVideoStream"]["Arn"] = _arn("kinesisvideo", ACCOUNT, "stream/x/1")
    _refused_and_audited(row, request, "resource")


@pytest.mark.parametrize(
    ("operation", "listing", "kept"),
    [
        ("ListCollections",
         {"CollectionIds": [ALLOWED, FORBIDDEN], "FaceModelVersions": ["a", "b"]},
         {"CollectionIds": [ALLOWED], "FaceModelVersions": ["a"]}),
        ("ListStreamProcessors",
         {"StreamProcessors": [{"Name": "watcher", "Status": "STOPPED"},
                               {"Name": "gone", "Status": "STOPPED"}]},
         {"StreamProcessors": [{"Name": "gone", "Status": "STOPPED"}]}),
    ],
)
def test_listings_are_filtered_to_allowed_collections(
    operation: str, listing: dict[str, Any], kept: dict[str, Any], stored: dict[str, str]
) -> None:
    """Finding 10: a key allowed some collections lists only those (and only the processors
    searching them)."""
    put_policy(Policy(KEY, allowed_collections=[ALLOWED]))
    assert gate.governed(CTX, operation, {}, lambda: listing) == kept
