"""Stream processors on live sources: a real RTSP server (GStreamer) and an HTTP MJPEG camera,
face search against a collection enrolled from one frame, match events to a webhook, the JSONL
sink and the audit log (with the processor's purpose)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oversight import operations
from oversight.config import settings
from oversight.errors import (
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from oversight.governance.audit import AuditLog
from oversight.video.runtime import stop_video_services
from oversight.video.sources import LiveSource
from tests.api_server import server_audit_log
from tests.conftest import IN_CI, shared_path
from tests.video_helpers import (
    BOY_IN_FIRST_FRAME,
    CROWD_CLIP,
    enrol_from_frame,
    hls_server,
    mjpeg_server,
    webhook_receiver,
)

# Real servers, processes or whole data sets: minutes, not seconds (`make test-fast` skips them).
pytestmark = pytest.mark.slow

SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER = Path(__file__).parent / "gst_rtsp_serve.py"
CAMERA = "arn:aws:kinesisvideo:us-east-1:000000000000:stream/door-camera/1"
EVENTS = "arn:aws:kinesis:us-east-1:000000000000:stream/door-events"
ROLE = "arn:aws:iam::000000000000:role/rekognition"


def _gstreamer_rtsp_available() -> bool:
    if shutil.which(SYSTEM_PYTHON) is None:
        return False
    check = [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"]
    return subprocess.run(check, capture_output=True).returncode == 0


@pytest.fixture
def rtsp_url(tmp_path: Path) -> Iterator[str]:
    """The crowd clip served by GStreamer's RTSP server on 127.0.0.1 (it stops on its own)."""
    if not _gstreamer_rtsp_available():
        if IN_CI:
            pytest.fail("GStreamer's RTSP server is missing: `make install` installs it")
        pytest.skip("GStreamer's RTSP server (gir1.2-gst-rtsp-server-1.0) is not installed")
    from tests.api_server import _free_port

    port = _free_port()
    server = subprocess.Popen(
        [SYSTEM_PYTHON, str(RTSP_SERVER), str(shared_path(CROWD_CLIP)), str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield f"rtsp://127.0.0.1:{port}/clip"
    finally:
        server.kill()
        server.wait(10)


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def apply(mapping: dict[str, str]) -> None:
        monkeypatch.setenv("OVERSIGHT_ENDPOINT_MAP", " ".join(f"{k}={v}" for k, v in
                                                               mapping.items()))
        settings.cache_clear()

    yield apply
    stop_video_services()


def _definition(name: str, threshold: float = 90.0, output: bool = True) -> dict[str, Any]:
    request: dict[str, Any] = {
        "Name": name, "RoleArn": ROLE,
        "Input": {"KinesisVideoStream": {"Arn": CAMERA}},
        "Settings": {"FaceSearch": {"CollectionId": "watch", "FaceMatchThreshold": threshold}},
    }
    if output:
        request["Output"] = {"KinesisDataStream": {"Arn": EVENTS}}
    return request


def _wait_stopped(name: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while (described := operations.call("DescribeStreamProcessor", {"Name": name}))[
            "Status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{name} still RUNNING after {seconds} s"
        time.sleep(0.3)
    return described


def test_stream_processor_requests_are_checked(endpoints: Any) -> None:
    endpoints({})
    with pytest.raises(ResourceNotFoundException):
        operations.call("CreateStreamProcessor", _definition("p"))  # no collection yet
    operations.call("CreateCollection", {"CollectionId": "watch"})
    with pytest.raises(InvalidParameterException, match="endpoint_map"):
        operations.call("CreateStreamProcessor", _definition("p"))  # camera ARN not mapped
    endpoints({CAMERA: "rtsp://127.0.0.1:9/none"})
    with pytest.raises(InvalidParameterException, match="at least 80"):
        operations.call("CreateStreamProcessor", _definition("p", threshold=70.0, output=False))
    operations.call("CreateStreamProcessor", _definition("p", output=False))
    with pytest.raises(ResourceAlreadyExistsException):
        operations.call("CreateStreamProcessor", _definition("p", output=False))
    listed = operations.call("ListStreamProcessors", {"MaxResults": 1})
    assert listed["StreamProcessors"] == [{"Name": "p", "Status": "STOPPED"}]
    region = {"BoundingBox": {"Left": 0.25, "Top": 0.25, "Width": 0.5, "Height": 0.5}}
    operations.call("UpdateStreamProcessor", {"Name": "p", "RegionsOfInterestForUpdate": [region]})
    described = operations.call("DescribeStreamProcessor", {"Name": "p"})
    assert described["RegionsOfInterest"] == [region]
    with pytest.raises(InvalidParameterException, match="ConnectedHome"):
        operations.call("UpdateStreamProcessor", {
            "Name": "p", "SettingsForUpdate": {"ConnectedHomeForUpdate": {"Labels": ["PET"]}}})
    operations.call("UpdateStreamProcessor", {"Name": "p",
                                              "ParametersToDelete": ["RegionsOfInterest"]})
    assert "RegionsOfInterest" not in operations.call("DescribeStreamProcessor", {"Name": "p"})
    with pytest.raises(ResourceInUseException):
        operations.call("StopStreamProcessor", {"Name": "p"})
    # Nothing listens at the camera's URL: the processor fails and says why.
    operations.call("StartStreamProcessor", {"Name": "p"})
    failed = _wait_stopped("p", 60)
    assert failed["Status"] == "FAILED" and "rtsp://127.0.0.1:9/none" in failed["StatusMessage"]
    operations.call("DeleteStreamProcessor", {"Name": "p"})
    with pytest.raises(ResourceNotFoundException):
        operations.call("DescribeStreamProcessor", {"Name": "p"})


def test_stream_processors_take_tags_like_collections(endpoints: Any) -> None:
    # CreateStreamProcessor kept no Tags and TagResource did not know its ARN (issue 13.2).
    endpoints({CAMERA: "rtsp://127.0.0.1:9/none"})
    operations.call("CreateCollection", {"CollectionId": "watch"})
    arn = operations.call("CreateStreamProcessor", {**_definition("tagged", output=False),
                                                    "Tags": {"site": "door"}})[
        "StreamProcessorArn"]
    assert operations.call("ListTagsForResource", {"ResourceArn": arn}) == {
        "Tags": {"site": "door"}}
    operations.call("TagResource", {"ResourceArn": arn, "Tags": {"owner": "ops"}})
    operations.call("UntagResource", {"ResourceArn": arn, "TagKeys": ["site"]})
    assert operations.call("ListTagsForResource", {"ResourceArn": arn}) == {
        "Tags": {"owner": "ops"}}
    assert "Tags" not in operations.call("DescribeStreamProcessor", {"Name": "tagged"})
    with pytest.raises(InvalidParameterException, match="reserved"):
        operations.call("TagResource", {"ResourceArn": arn, "Tags": {"aws:x": "y"}})
    for other in (arn.replace("tagged", "absent"), arn.replace("000000000000", "111111111111")):
        with pytest.raises(ResourceNotFoundException):
            operations.call("ListTagsForResource", {"ResourceArn": other})


def test_a_processor_whose_stream_ends_says_so(endpoints: Any) -> None:
    # It was STOPPED with no StatusMessage, and NotificationChannel was never shown (issue 13.7).
    topic = "arn:aws:sns:us-east-1:000000000000:processor-status"
    channel = {"SNSTopicArn": topic}
    operations.call("CreateCollection", {"CollectionId": "watch"})
    with mjpeg_server(shared_path("video/face-api-js-faces.mp4"), fps=10) as url, \
            webhook_receiver() as hook:
        endpoints({CAMERA: url, topic: hook.url})
        operations.call("CreateStreamProcessor", {**_definition("ends", output=False),
                                                  "NotificationChannel": channel})
        operations.call("StartStreamProcessor", {"Name": "ends"})
        described = _wait_stopped("ends", 60)
        notified = hook.wait_for(1, 10)
    assert (described["Status"], described["StatusMessage"]) == ("STOPPED", "The stream ended")
    assert described["NotificationChannel"] == channel
    assert notified == [{"StreamProcessor": "ends", "Status": "STOPPED",
                         "StatusMessage": "The stream ended"}]


def test_a_stop_selector_deadline_holds_for_a_node_that_resumes_the_session(
        endpoints: Any) -> None:
    from oversight.video.runtime import NODE, STOP_AT, processor_store

    operations.call("CreateCollection", {"CollectionId": "watch"})
    with mjpeg_server(shared_path("video/face-api-js-faces.mp4"), fps=2) as url:
        endpoints({CAMERA: url})
        operations.call("CreateStreamProcessor", _definition("timed", output=False))
        operations.call("StartStreamProcessor", {
            "Name": "timed", "StopSelector": {"MaxDurationInSeconds": 1}})
        described = _wait_stopped("timed", 60)
        assert described["StatusMessage"] == "Stopped after StopSelector.MaxDurationInSeconds (1 s)"
        assert STOP_AT not in described  # kept in the definition, never answered
        # A node resuming a session whose deadline has passed stops it at once, as its starter
        # asked, instead of running it without end.
        store = processor_store()
        processor = store.get("000000000000", "timed")
        assert processor.definition[STOP_AT]["At"] < time.time()
        assert store.start(processor.account_id, "timed", NODE)  # as left by a dead node
        store.set(processor.account_id, "timed", status="RUNNING", owner=None)
        from oversight.video.runtime import keep_leases

        keep_leases()
        described = _wait_stopped("timed", 60)
    assert described["StatusMessage"] == "Stopped after StopSelector.MaxDurationInSeconds (1 s)"


def test_http_mjpeg_camera_is_read_frame_by_frame() -> None:
    with mjpeg_server(shared_path("video/face-api-js-faces.mp4"), fps=10) as url:
        source = LiveSource(url)
        frames = list(source.frames())
    assert source.error is None
    assert 1 <= len(frames) <= 5 and frames[-1].index <= 4
    assert (frames[0].width, frames[0].height) == (820, 460)



def test_hls_playlist_is_searched_live(endpoints: Any, tmp_path: Path) -> None:
    """An HTTP Live Streaming camera: the boy enrolled from the first frame is found live."""
    clip = shared_path(CROWD_CLIP)
    face_id = enrol_from_frame("watch", clip, "boy-in-blue", BOY_IN_FIRST_FRAME)
    with hls_server(clip, tmp_path) as url, webhook_receiver() as hook:
        endpoints({CAMERA: url, EVENTS: hook.url})
        operations.call("CreateStreamProcessor", _definition("hls"))
        operations.call("StartStreamProcessor", {"Name": "hls"})
        described = _wait_stopped("hls", 60)
        events = hook.wait_for(1, 10)
    assert described["Status"] == "STOPPED", described.get("StatusMessage")
    assert events, "no match event from the HLS stream"
    matches = [face["MatchedFaces"][0]["Face"] for event in events
               for face in event["FaceSearchResponse"]]
    assert {match["FaceId"] for match in matches} == {face_id}


def test_rtsp_camera_searched_live_through_the_api(rtsp_url: str, tmp_path: Path) -> None:
    """boto3 creates and starts a processor on a real RTSP server; matches reach Server-Sent
    Events, the webhook, the JSONL sink and the audit log under the processor's purpose."""
    import httpx
    from botocore.exceptions import ClientError

    from tests.api_server import client, running_server, signed_get
    from tests.video_helpers import frame_jpeg

    clip = shared_path(CROWD_CLIP)
    with webhook_receiver() as hook:
        env = {"OVERSIGHT_ENDPOINT_MAP": f"{CAMERA}={rtsp_url} {EVENTS}={hook.url}"}
        with running_server(tmp_path, env) as server:
            rekognition = client(server, server.access_key_id, server.secret_access_key)
            rekognition.meta.events.register(
                "before-sign.rekognition.*",
                lambda request, **_: request.headers.add_header("X-Oversight-Purpose",
                                                                "case 2026-118"))
            rekognition.create_collection(CollectionId="watch")
            face_id = rekognition.index_faces(
                CollectionId="watch", Image={"Bytes": frame_jpeg(clip, 0, BOY_IN_FIRST_FRAME)},
                ExternalImageId="boy-in-blue", MaxFaces=1,
            )["FaceRecords"][0]["Face"]["FaceId"]
            rekognition.create_stream_processor(**_definition("door"))
            described = rekognition.describe_stream_processor(Name="door")
            assert described["Status"] == "STOPPED" and described["CreationTimestamp"].year > 2000

            url = f"{server.url}/stream-processors/door/events"
            assert httpx.get(url).status_code == 403  # unsigned
            session = rekognition.start_stream_processor(Name="door")["SessionId"]
            with pytest.raises(ClientError, match="ResourceInUseException"):
                rekognition.start_stream_processor(Name="door")
            events = []
            headers = signed_get(url, (server.access_key_id, server.secret_access_key))
            with httpx.stream("GET", url, headers=headers, timeout=120) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line.removeprefix("data: ")))
            # The stream ended with the processor: the clip is 4.2 s long.
            assert rekognition.describe_stream_processor(Name="door")["Status"] == "STOPPED"
            assert hook.wait_for(len(events), 10) == events
    assert events, "no match event reached Server-Sent Events"
    for event in events:
        assert event["StreamProcessorInformation"]["SessionId"] == session
        assert event["FrameTimestampMillis"] > 0 and event["FrameOffsetMillis"] >= 0
        for face in event["FaceSearchResponse"]:
            box = face["DetectedFace"]["BoundingBox"]
            assert 0.3 < box["Left"] < 0.7 and 0.4 < box["Top"] < 0.8  # where the boy walks
            match = face["MatchedFaces"][0]
            assert match["Face"]["FaceId"] == face_id and match["Similarity"] >= 90.0
            assert match["Face"]["ExternalImageId"] == "boy-in-blue"
    sink = next((server.data_dir / "streams").glob("*/door.jsonl"))
    assert [json.loads(line) for line in sink.read_text().splitlines()] == events
    log = server_audit_log(server)
    audited = [r for r in log.records() if r.get("kind") == "stream_match"]
    assert len(audited) == len(events) and log.verify().ok
    assert all(r["purpose"] == "case 2026-118" and r["stream_processor"] == "door"
               and r["matches"][0]["face_id"] == face_id for r in audited)


def test_live_matches_under_review_carry_the_case_not_the_identity(
    endpoints: Any, tmp_path: Path
) -> None:
    """Issue 16: a processor started under a review clause sends its webhook a review case; the
    identity stays in the case (with the probe cut from the live frame) until people confirm."""
    from oversight.governance.policy import DEFAULT_KEY, Policy, put_policy
    from oversight.operations.context import LOCAL_ACCOUNT
    from oversight.review.cases import list_cases

    put_policy(Policy(DEFAULT_KEY, review={"reviewers": 1}))
    clip = shared_path(CROWD_CLIP)
    face_id = enrol_from_frame("watch", clip, "boy-in-blue", BOY_IN_FIRST_FRAME)
    with hls_server(clip, tmp_path) as url, webhook_receiver() as hook:
        endpoints({CAMERA: url, EVENTS: hook.url})
        operations.call("CreateStreamProcessor", _definition("reviewed"))
        operations.call("StartStreamProcessor", {"Name": "reviewed"})
        _wait_stopped("reviewed", 60)
        events = hook.wait_for(1, 10)
    assert events, "no match event from the HLS stream"
    assert all(face["MatchedFaces"] == [] for e in events for face in e["FaceSearchResponse"])
    case_ids = {event["ReviewCaseId"] for event in events}
    cases = [c for c in list_cases(LOCAL_ACCOUNT) if c.case_id in case_ids]
    assert len(cases) == len(case_ids)
    assert {c.candidates[0]["FaceId"] for c in cases} == {face_id}
    assert all(c.probe_crop for c in cases) and all(c.operation == "StreamProcessorMatch"
                                                    for c in cases)
    log = AuditLog()
    records = [r for r in log.records() if r.get("stream_processor") == "reviewed"]
    assert {r["review_case"] for r in records} == case_ids and log.verify().ok
