"""The governance gate called directly: every policy rule refuses and allows as stated, and what
the audit log keeps of each request."""

from __future__ import annotations

import uuid

import pytest

from oversight.errors import (
    AccessDeniedException,
    InvalidParameterException,
    ResourceNotFoundException,
    ThrottlingException,
)
from oversight.governance import gate
from oversight.governance.audit import AuditLog
from oversight.governance.policy import DEFAULT_KEY, Policy, delete_policy, put_policy
from oversight.governance.ratelimit import RateLimiter
from oversight.operations.context import RequestContext
from oversight.store import get_engine
from oversight.video.processors import ProcessorStore

KEY = "AKIAGOVERNANCETEST01"
CTX = RequestContext(account_id="123456789012", access_key_id=KEY, purpose="case 2026-17")


def _refused(request: dict, operation: str = "SearchFacesByImage", ctx: RequestContext = CTX):
    with pytest.raises(AccessDeniedException) as caught:
        gate.admit(ctx, operation, request)
    return caught.value


def test_no_policy_allows_everything() -> None:
    gate.admit(CTX, "SearchFacesByImage", {"CollectionId": "x", "FaceMatchThreshold": 1})


def test_allowed_operations() -> None:
    put_policy(Policy(KEY, allowed_operations=["DetectFaces"]))
    gate.admit(CTX, "DetectFaces", {})
    error = _refused({"CollectionId": "c"})
    assert "does not allow SearchFacesByImage" in error.message and KEY in error.message


def test_allowed_collections() -> None:
    put_policy(Policy(KEY, allowed_collections=["staff"]))
    gate.admit(CTX, "SearchFacesByImage", {"CollectionId": "staff"})
    assert "'visitors'" in _refused({"CollectionId": "visitors"}).message
    settings = {"Settings": {"FaceSearch": {"CollectionId": "visitors"}}}
    _refused(settings, "CreateStreamProcessor")


def test_minimum_threshold_is_refused_never_raised() -> None:
    put_policy(Policy(KEY, min_match_threshold=99))
    gate.admit(CTX, "SearchFacesByImage", {"CollectionId": "c", "FaceMatchThreshold": 99})
    gate.admit(CTX, "CompareFaces", {"SimilarityThreshold": 99.5})
    assert "FaceMatchThreshold >= 99" in _refused({"FaceMatchThreshold": 98.9}).message
    # Absent means Rekognition's default of 80, which is below the minimum.
    assert "default 80" in _refused({"CollectionId": "c"}).message
    _refused({"SimilarityThreshold": 90}, "CompareFaces")
    _refused({"UserMatchThreshold": 50}, "SearchUsers")
    stream = {"Settings": {"FaceSearch": {"CollectionId": "c", "FaceMatchThreshold": 90}}}
    _refused(stream, "CreateStreamProcessor")
    # Operations that match nothing are not bound by it.
    gate.admit(CTX, "DetectFaces", {})


def test_max_faces() -> None:
    put_policy(Policy(KEY, max_faces=5))
    gate.admit(CTX, "SearchFaces", {"FaceId": "f", "MaxFaces": 5})
    assert "at most 5" in _refused({"MaxFaces": 6}, "SearchFaces").message
    assert "leaves it out" in _refused({}, "SearchFaces").message
    _refused({"MaxUsers": 10}, "SearchUsersByImage")


def test_live_stream_search() -> None:
    put_policy(Policy(KEY, allow_stream_search=False))
    search = {"Settings": {"FaceSearch": {"CollectionId": "c"}}}
    assert "live streams" in _refused(search, "CreateStreamProcessor").message
    labels = {"Settings": {"ConnectedHome": {"Labels": ["PERSON"]}}}
    gate.admit(CTX, "CreateStreamProcessor", labels)


def test_starting_a_stored_processor_is_judged_on_its_settings() -> None:
    ProcessorStore(get_engine()).create(
        CTX.account_id, "lobby",
        {"Settings": {"FaceSearch": {"CollectionId": "staff", "FaceMatchThreshold": 85}}},
        access_key_id=None, purpose=None,
    )
    put_policy(Policy(KEY, min_match_threshold=95))
    assert "FaceMatchThreshold >= 95" in _refused({"Name": "lobby"}, "StartStreamProcessor").message
    put_policy(Policy(KEY, allow_stream_search=False))
    assert "live streams" in _refused({"Name": "lobby"}, "StartStreamProcessor").message
    put_policy(Policy(KEY, allowed_collections=["visitors"]))
    _refused({"Name": "lobby"}, "StartStreamProcessor")
    put_policy(Policy(KEY, min_match_threshold=80))
    gate.admit(CTX, "StartStreamProcessor", {"Name": "lobby"})
    gate.admit(CTX, "StartStreamProcessor", {"Name": "no-such-processor"})


def test_purpose_required() -> None:
    put_policy(Policy(KEY, require_purpose=True))
    gate.admit(CTX, "DetectFaces", {})
    for purpose in (None, "  "):
        ctx = RequestContext(account_id=CTX.account_id, access_key_id=KEY, purpose=purpose)
        assert "X-Oversight-Purpose" in _refused({}, "DetectFaces", ctx).message


@pytest.mark.parametrize(
    "purpose",
    ["x" * 513, "case 7\nFORGED", "case\t7", "\x1b[31mcase", "caf\u00e9", "c\u0430se 7", "\x7f"],
)
def test_purpose_must_be_printable_ascii_of_at_most_512(purpose: str) -> None:
    """Issue 12 finding 14: control and non-ASCII characters are refused, as documented."""
    ctx = RequestContext(account_id="1", access_key_id=KEY, purpose=purpose)
    with pytest.raises(InvalidParameterException):
        gate.admit(ctx, "DetectFaces", {})


def test_printable_ascii_purposes_are_accepted() -> None:
    for purpose in ("x" * 512, "case 2026-17: ~!@#$%^&*()_+{}|<>?", " "):
        gate.admit(RequestContext(account_id="1", access_key_id=KEY, purpose=purpose),
                   "DetectFaces", {})


def test_default_policy_applies_to_keys_without_their_own() -> None:
    put_policy(Policy(DEFAULT_KEY, allowed_operations=["DetectFaces"]))
    _refused({})
    put_policy(Policy(KEY))
    gate.admit(CTX, "SearchFacesByImage", {})
    assert delete_policy(KEY)
    _refused({})


def test_rate_limit_throttles_per_key_and_names_the_wait() -> None:
    limiter = RateLimiter("memory://")
    for _ in range(3):
        limiter.take(KEY, 3)
    with pytest.raises(ThrottlingException, match="3 requests per minute") as refused:
        limiter.take(KEY, 3)
    wait = float(refused.value.message.rsplit("retry in ", 1)[1].split()[0])
    assert 0 < wait <= 60
    limiter.take("another-key", 3)  # keys do not share an allowance
    limiter.take(KEY, 4)  # a changed limit is a new allowance


def test_rate_limit_in_redis_holds_across_nodes(redis_url: str) -> None:
    nodes = [RateLimiter(redis_url) for _ in range(3)]  # three processes' limiters
    key = f"AKIDTEST{uuid.uuid4().hex[:12].upper()}"
    for i in range(5):
        nodes[i % 3].take(key, 5)
    for node in nodes:
        with pytest.raises(ThrottlingException, match="5 requests per minute"):
            node.take(key, 5)


def test_rate_limit_through_the_gate_is_audited() -> None:
    put_policy(Policy(KEY, rate_limit_per_minute=1))
    gate.admit(CTX, "DetectFaces", {})
    with pytest.raises(ThrottlingException):
        gate.admit(CTX, "DetectFaces", {})
    last = list(AuditLog().records())[-1]
    assert last["outcome"] == "ThrottlingException" and last["refused_by"] == "rate_limit"


def _must_not_run() -> dict:
    raise AssertionError("a refused operation ran")


def test_refusals_are_audited_once() -> None:
    put_policy(Policy(KEY, allowed_operations=[]))
    with pytest.raises(AccessDeniedException):
        gate.governed(CTX, "SearchFacesByImage", {"CollectionId": "c"}, _must_not_run)
    records = list(AuditLog().records())
    assert len(records) == 1
    assert records[0]["outcome"] == "AccessDeniedException"
    assert records[0]["refused_by"] == "operation"


def test_operation_record_fields_and_nothing_biometric() -> None:
    image = b"\xff\xd8\xff\xe0 pretend jpeg bytes"
    request = {
        "CollectionId": "staff", "Image": {"Bytes": image}, "FaceMatchThreshold": 95.0,
        "MaxFaces": 3,
    }
    response = {
        "SearchedFaceBoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1},
        "SearchedFaceConfidence": 99.9,
        "FaceMatches": [{"Similarity": 97.25, "Face": {
            "FaceId": "11111111-1111-1111-1111-111111111111", "ExternalImageId": "jane-doe",
            "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1},
        }}],
        "FaceModelVersion": "6.0",
    }
    gate.governed(CTX, "SearchFacesByImage", request, lambda: response)
    (record,) = AuditLog().records()
    assert record["operation"] == "SearchFacesByImage"
    assert (record["account"], record["key"], record["purpose"]) == (
        CTX.account_id, KEY, CTX.purpose
    )
    assert record["request_id"] == CTX.request_id and record["collection"] == "staff"
    assert record["outcome"] == "ok" and record["time"].endswith("Z")
    assert record["parameters"] == {"FaceMatchThreshold": 95.0, "MaxFaces": 3}
    assert record["counts"] == {"FaceMatches": 1}
    assert record["matches"] == [
        {"face_id": "11111111-1111-1111-1111-111111111111", "similarity": 97.25}
    ]
    text = b"".join(AuditLog().lines()).decode()
    for leaked in ("pretend jpeg", "jane-doe", "BoundingBox", "Bytes", "SearchedFaceConfidence"):
        assert leaked not in text


def test_errors_are_recorded_with_their_code() -> None:
    def missing() -> dict:
        raise ResourceNotFoundException("collection nope not found")

    with pytest.raises(ResourceNotFoundException):
        gate.governed(CTX, "SearchFaces", {"CollectionId": "nope", "FaceId": "f"}, missing)
    (record,) = AuditLog().records()
    assert record["outcome"] == "ResourceNotFoundException" and "counts" not in record


def test_non_biometric_operations_are_not_recorded() -> None:
    gate.governed(CTX, "DetectLabels", {}, lambda: {"Labels": []})
    assert list(AuditLog().records()) == []


def test_admin_events_are_recorded() -> None:
    gate.audit_admin_event(CTX, "PutPolicy", KEY, {"max_faces": 5})
    (admin,) = AuditLog().records()
    assert (admin["kind"], admin["action"], admin["target"]) == ("admin", "PutPolicy", KEY)
    assert admin["details"] == {"max_faces": 5} and admin["key"] == KEY


def test_policies_and_retention_rules_in_both_stores(store_url: str) -> None:
    from oversight.governance.policy import get_policy, list_policies
    from oversight.governance.retention import RetentionRule, delete_rule, list_rules, put_rule

    policy = Policy(KEY, allowed_operations=["SearchFaces"], allowed_collections=["a", "b"],
                    min_match_threshold=99.5, max_faces=3, allow_stream_search=False,
                    rate_limit_per_minute=10, require_purpose=True)
    put_policy(policy)
    put_policy(policy)  # replacing is idempotent
    assert get_policy(KEY) == policy and list_policies() == [policy]
    assert delete_policy(KEY) and get_policy(KEY) is None and not delete_policy(KEY)
    rule = RetentionRule("123456789012", "visitors", 0.5)
    put_rule(rule)
    assert list_rules() == [rule]
    assert delete_rule(rule.account_id, rule.collection_id) and list_rules() == []


def test_malformed_policies_and_rules_are_parameter_errors() -> None:
    from oversight.governance.retention import RetentionRule, put_rule

    for key in ("x", "AKIA" + "A" * 200, "akia lower case key"):
        with pytest.raises(InvalidParameterException):
            put_policy(Policy(key))
    for days in (0, -1, float("inf"), float("nan")):
        with pytest.raises(InvalidParameterException):
            put_rule(RetentionRule("1", "visitors", days))
    with pytest.raises(InvalidParameterException):
        put_rule(RetentionRule("1", "no spaces allowed", 1))
