"""Issue 12's findings 1, 4, 5, 8 and 10, reproduced against a live server as an attacker would.

Each test failed on main 2356229 (the reproduction worked) and passes now. Findings 1, 4 and 8
use a server of their own whose `endpoint_map` maps account A's camera (an endless MJPEG stream
served here) and A's data stream (a webhook), with a stream processor of A running on them;
findings 5 and 10 use the session server. Findings 2 and 11 (the console) are in
tests/test_console.py; every row of the governance catalog is in test_governance_choke_point.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from botocore.exceptions import ClientError

from oversight.api.keys import KeyStore, new_account_id
from oversight.governance.policy import Policy, put_policy
from oversight.operations.context import LOCAL_ACCOUNT
from oversight.store import get_engine
from oversight.video.jobs import JobStore
from oversight.video.processors import ProcessorStore
from tests.api_server import (
    ApiServer,
    client,
    running_server,
    server_audit_log,
    signed_get,
    signed_post,
    use_server_store,
)
from tests.video_helpers import mjpeg_stream, webhook_receiver

# Each test starts or uses a real server (`make test-fast` skips them).
pytestmark = pytest.mark.slow

CAMERA_A = f"arn:aws:kinesisvideo:us-east-1:{LOCAL_ACCOUNT}:stream/a-door/1"
EVENTS_A = f"arn:aws:kinesis:us-east-1:{LOCAL_ACCOUNT}:stream/a-matches"
PROCESSOR = "door"
CAP = 4  # event streams per key on the live server
# A stream that a revocation or a policy change must end is given this long (the server
# re-checks every second; the old code kept streaming indefinitely).
END_WITHIN_SECONDS = 20.0


def _role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/oversight"


def _processor(name: str, camera: str, events: str, role: str) -> dict[str, Any]:
    return {
        "Name": name, "RoleArn": role,
        "Input": {"KinesisVideoStream": {"Arn": camera}},
        "Output": {"KinesisDataStream": {"Arn": events}},
        "Settings": {"FaceSearch": {"CollectionId": "lobby", "FaceMatchThreshold": 90.0}},
    }


@contextmanager
def endless_camera() -> Iterator[str]:
    """An MJPEG camera showing an empty grey room at 5 frames a second until the block ends
    (nothing to match: the processor runs and stays idle)."""
    jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()
    stop = threading.Event()

    def frames() -> Iterator[bytes]:
        while not stop.is_set():
            yield jpeg

    with mjpeg_stream(frames, fps=5.0) as url:
        try:
            yield url
        finally:
            stop.set()


@dataclass(frozen=True)
class Live:
    server: ApiServer
    a: Any  # boto3 client of account A (the server's first key)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with endless_camera() as camera, webhook_receiver() as hook:
        env = {
            "OVERSIGHT_ENDPOINT_MAP": f"{CAMERA_A}={camera} {EVENTS_A}={hook.url}",
            "OVERSIGHT_MAX_EVENT_STREAMS_PER_KEY": str(CAP),
            "OVERSIGHT_EVENT_STREAM_RECHECK_SECONDS": "1",
        }
        with running_server(tmp_path_factory.mktemp("findings"), env) as server:
            a = client(server, server.access_key_id, server.secret_access_key)
            a.create_collection(CollectionId="lobby")
            a.create_stream_processor(
                **_processor(PROCESSOR, CAMERA_A, EVENTS_A, _role(LOCAL_ACCOUNT)))
            a.start_stream_processor(Name=PROCESSOR)
            yield Live(server, a)
            a.stop_stream_processor(Name=PROCESSOR)


@pytest.fixture
def live_store(live: Live, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    """This process's store is the live server's: keys and policies made here govern it."""
    return use_server_store(live.server, monkeypatch)


def _key(account: str = LOCAL_ACCOUNT, policy: dict[str, Any] | None = None) -> tuple[str, str]:
    """A new key of `account` in the current store, under `policy`."""
    new = KeyStore.default().create(account, description="issue 12 finding test")
    if policy is not None:
        put_policy(Policy(new.key.access_key_id, **policy))
    return new.key.access_key_id, new.secret


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDeniedException", error
    return str(error["Message"])


def _records(server: ApiServer, **match: Any) -> list[dict[str, Any]]:
    return [r for r in server_audit_log(server).records()
            if all(r.get(k) == v for k, v in match.items())]


def _events_url(server: ApiServer, name: str = PROCESSOR) -> str:
    return f"{server.url}/stream-processors/{name}/events"


def _refused_stream(url: str, key: tuple[str, str]) -> str:
    """The error body of an event stream the server must refuse to open (never read the body of
    one it opened: that would wait for the stream to end)."""
    with httpx.stream("GET", url, headers=signed_get(url, key), timeout=60) as response:
        assert response.status_code != 200, "the stream was opened"
        return response.read().decode()


def _until_end(response: httpx.Response, seconds: float) -> list[str] | None:
    """The stream's lines once it ends, or None if it is still open after `seconds`."""
    deadline = time.monotonic() + seconds
    lines = []
    for line in response.iter_lines():
        lines.append(line)
        if time.monotonic() > deadline:
            return None
    return lines


# -- finding 1: cross-tenant cameras and sinks -------------------------------------------------
def test_finding_1_another_accounts_camera_and_webhook_are_refused(
    live: Live, live_store: ApiServer
) -> None:
    account_b = new_account_id()
    b = client(live.server, *_key(account_b))
    b.create_collection(CollectionId="lobby")
    steal_camera = _processor("spy", CAMERA_A, EVENTS_A, _role(account_b))
    assert "does not belong to account" in _denied(lambda: b.create_stream_processor(
        **steal_camera))
    own_camera_a_sink = _processor(
        "spy", f"arn:aws:kinesisvideo:us-east-1:{account_b}:stream/b-door/1", EVENTS_A,
        _role(account_b))
    assert EVENTS_A in _denied(lambda: b.create_stream_processor(**own_camera_a_sink))
    a_role = _processor("spy", f"arn:aws:kinesisvideo:us-east-1:{account_b}:stream/b/1",
                        f"arn:aws:kinesis:us-east-1:{account_b}:stream/b", _role(LOCAL_ACCOUNT))
    assert "role" in _denied(lambda: b.create_stream_processor(**a_role))
    # A's collection by ARN: not B's to read or tag.
    arn = live.a.describe_collection(CollectionId="lobby")["CollectionARN"]
    _denied(lambda: b.list_tags_for_resource(ResourceArn=arn))
    _denied(lambda: b.tag_resource(ResourceArn=arn, Tags={"owner": "b"}))
    refusals = _records(live.server, account=account_b, refused_by="account")
    assert len(refusals) == 5
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        b.describe_stream_processor(Name="spy")


# -- findings 4 and 8: the live event streams --------------------------------------------------
def test_finding_4_an_event_stream_is_audited_and_ends_when_its_key_is_revoked(
    live: Live, live_store: ApiServer
) -> None:
    key = _key()
    url = _events_url(live.server)
    with httpx.stream("GET", url, headers=signed_get(url, key, "watch desk 4"),
                      timeout=60) as response:
        assert response.status_code == 200, response.read()
        KeyStore.default().revoke(key[0])
        lines = _until_end(response, END_WITHIN_SECONDS)
    assert lines is not None, "the stream went on after its key was revoked"
    assert "event: error" in lines and any("UnrecognizedClientException" in x for x in lines)
    (watched,) = _records(live.server, operation="GetStreamProcessorEvents", key=key[0])
    assert (watched["outcome"], watched["purpose"]) == ("ok", "watch desk 4")
    assert watched["collection"] == "lobby"  # resolved from the stored processor


def test_event_streams_refused_from_the_other_side_are_audited(
    live: Live, live_store: ApiServer
) -> None:
    """Another account's key, a revoked key and a re-aimed capture (a signed header repeated)
    open no stream, and each refusal is in the audit log, before the gate or at it."""
    url = _events_url(live.server)
    stranger, revoked = _key(new_account_id()), _key()
    KeyStore.default().revoke(revoked[0])
    repeated = list(signed_get(url, _key()).items())
    repeated.insert(0, ("x-amz-date", "20200101T000000Z"))
    answers = {}
    for case, headers in (("stranger", signed_get(url, stranger)),
                          ("revoked", signed_get(url, revoked)), ("repeated", repeated)):
        with httpx.stream("GET", url, headers=headers, timeout=60) as response:
            answers[case] = (response.status_code, response.headers["x-amzn-RequestId"],
                             json.loads(response.read())["__type"])
    assert answers["stranger"][0] == 400 and answers["stranger"][2] == "ResourceNotFoundException"
    assert answers["revoked"][2] == "UnrecognizedClientException"
    assert answers["repeated"][2] == "InvalidSignatureException"
    records = {r.get("request_id"): r for r in server_audit_log(live.server).records()}
    for case, (_, request_id, code) in answers.items():
        record = records[request_id]
        assert record["operation"] == "GetStreamProcessorEvents", case
        assert record["outcome"] == code, case
    assert records[answers["stranger"][1]]["key"] == stranger[0]


def test_finding_4_an_event_stream_is_judged_by_the_policy_and_ends_when_it_changes(
    live: Live, live_store: ApiServer
) -> None:
    url = _events_url(live.server)
    forbidden = _key(policy={"allowed_operations": ["ListCollections"]})
    assert "AccessDeniedException" in _refused_stream(url, forbidden)
    (record,) = _records(live.server, operation="GetStreamProcessorEvents", key=forbidden[0])
    assert record["refused_by"] == "operation"
    for policy, rule in (({"allowed_collections": ["elsewhere"]}, "collection"),
                         ({"min_match_threshold": 95}, "threshold"),
                         ({"allow_stream_search": False}, "stream_search")):
        key = _key(policy=policy)
        assert "AccessDeniedException" in _refused_stream(url, key), policy
        assert _records(live.server, key=key[0])[-1]["refused_by"] == rule

    key = _key()
    with httpx.stream("GET", url, headers=signed_get(url, key), timeout=60) as response:
        assert response.status_code == 200
        put_policy(Policy(key[0], allowed_operations=["ListCollections"]))
        lines = _until_end(response, END_WITHIN_SECONDS)
    assert lines is not None, "the stream went on after its policy changed"
    assert any("AccessDeniedException" in line for line in lines)


def test_finding_8_event_streams_are_capped_per_key_and_leave_the_api_responsive(
    live: Live, live_store: ApiServer
) -> None:
    url = _events_url(live.server)
    keys = [_key() for _ in range(10)]
    with ExitStack() as open_streams, httpx.Client(
            timeout=60, limits=httpx.Limits(max_connections=64)) as http:
        for key in keys:
            for _ in range(CAP):
                response = open_streams.enter_context(
                    http.stream("GET", url, headers=signed_get(url, key)))
                assert response.status_code == 200
        assert "ThrottlingException" in _refused_stream(url, keys[0])
        # 40 idle streams are open: an API request is still answered.
        assert "lobby" in live.a.list_collections()["CollectionIds"]
    # Closed streams give their slots back.
    with httpx.stream("GET", url, headers=signed_get(url, keys[0]), timeout=60) as again:
        assert again.status_code == 200


# -- finding 5: minimum thresholds at request time and when stored results are read ------------
def _redact(server: ApiServer, key: tuple[str, str], **members: Any) -> httpx.Response:
    import json

    body = json.dumps({"Image": {"Bytes": "AAAA"}, "SpareCollectionId": "staff", **members})
    return signed_post(server, body.encode(), target="RekognitionService.RedactFaces", key=key)


def test_finding_5_minimum_threshold_holds_for_every_operation_revealing_a_match(
    server_store: ApiServer,
) -> None:
    account = new_account_id()
    key = _key(account, {"min_match_threshold": 99})
    rekognition = client(server_store, *key)
    refused = _redact(server_store, key, SpareFaceMatchThreshold=0)
    assert refused.status_code == 400 and "SpareFaceMatchThreshold >= 99" in refused.text
    assert "default 90" in _redact(server_store, key).text
    assert "UserMatchThreshold >= 99" in _denied(lambda: rekognition.associate_faces(
        CollectionId="staff", UserId="u", FaceIds=["11111111-1111-1111-1111-111111111111"],
        UserMatchThreshold=0))
    # A job run at 10 (before the policy, or by another key): its matches are not handed out.
    job, _ = JobStore(get_engine()).create(
        account, "StartFaceSearch", {"CollectionId": "staff", "FaceMatchThreshold": 10.0},
        {"S3Object": {"Bucket": "videos", "Name": "lobby.mp4"}})
    message = _denied(lambda: rekognition.get_face_search(JobId=job.job_id))
    assert f"job {job.job_id} uses 10" in message
    refusals = _records(server_store, key=key[0], refused_by="threshold")
    assert [r["operation"] for r in refusals] == [
        "RedactFaces", "RedactFaces", "AssociateFaces", "GetFaceSearch"]


def test_finding_5_redaction_spares_no_more_faces_than_the_policy_allows(
    server_store: ApiServer,
) -> None:
    key = _key(new_account_id(), {"max_faces": 2})
    assert "MaxSparedFaces=2 or fewer" in _redact(server_store, key).text
    assert "MaxSparedFaces=2 or fewer" in _redact(server_store, key, MaxSparedFaces=3).text
    admitted = _redact(server_store, key, MaxSparedFaces=2)  # an image error: not a refusal
    assert admitted.status_code == 400 and "AccessDeniedException" not in admitted.text


# -- finding 10: allowed collections on everything a request reaches ----------------------------
def test_finding_10_allowed_collections_cover_stored_resources(server_store: ApiServer) -> None:
    account = new_account_id()
    owner = client(server_store, *_key(account))
    for collection in ("mine", "theirs"):
        owner.create_collection(CollectionId=collection)
    theirs = owner.describe_collection(CollectionId="theirs")["CollectionARN"]
    ProcessorStore(get_engine()).create(account, "their-door", {"Settings": {"FaceSearch": {
        "CollectionId": "theirs", "FaceMatchThreshold": 90.0}}}, None, None)
    job, _ = JobStore(get_engine()).create(
        account, "StartFaceSearch", {"CollectionId": "theirs", "FaceMatchThreshold": 90.0},
        {"S3Object": {"Bucket": "videos", "Name": "lobby.mp4"}})
    key = _key(account, {"allowed_collections": ["mine"]})
    limited = client(server_store, *key)

    assert limited.list_collections()["CollectionIds"] == ["mine"]
    assert limited.list_stream_processors()["StreamProcessors"] == []
    for call in (
        lambda: limited.list_tags_for_resource(ResourceArn=theirs),
        lambda: limited.tag_resource(ResourceArn=theirs, Tags={"k": "v"}),
        lambda: limited.untag_resource(ResourceArn=theirs, TagKeys=["k"]),
        lambda: limited.describe_stream_processor(Name="their-door"),
        lambda: limited.stop_stream_processor(Name="their-door"),
        lambda: limited.update_stream_processor(
            Name="their-door", DataSharingPreferenceForUpdate={"OptIn": False}),
        lambda: limited.delete_stream_processor(Name="their-door"),
        lambda: limited.get_face_search(JobId=job.job_id),
    ):
        assert "'theirs'" in _denied(call)
    assert len(_records(server_store, key=key[0], refused_by="collection")) == 8
    assert owner.describe_stream_processor(Name="their-door")["Name"] == "their-door"
    assert owner.list_tags_for_resource(ResourceArn=theirs)["Tags"] == {}
