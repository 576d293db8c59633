"""Stored-video jobs on the shared clips: Start*/Get* shapes, tracking, search, idempotency,
cancellation, S3 input through the API server, and a server killed in the middle of a job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from oversight import operations
from oversight.config import settings
from oversight.errors import (
    IdempotentParameterMismatchException,
    InvalidS3ObjectException,
    ResourceNotFoundException,
)
from oversight.operations.context import RequestContext
from oversight.operations.video import submit_job
from oversight.video.runtime import job_runner, stop_video_services
from tests.api_server import ApiServer, client, running_server, s3_env
from tests.conftest import shared_path
from tests.video_helpers import (
    BOY_IN_FIRST_FRAME,
    CROWD_CLIP,
    enrol_from_frame,
    s3_endpoint,
    upload,
    webhook_receiver,
)

# Real servers, processes or whole data sets: minutes, not seconds (`make test-fast` skips them).
pytestmark = pytest.mark.slow

LOCAL = RequestContext.local()


@pytest.fixture
def video_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"OVERSIGHT_{name.upper()}", str(value))
        settings.cache_clear()

    yield apply
    stop_video_services()


def _wait(get: str, job_id: str, seconds: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = operations.call(get, {"JobId": job_id})
        if response["JobStatus"] != "IN_PROGRESS":
            return response
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still IN_PROGRESS after {seconds} s")


def _local_job(start: str, clip: Path, **members: Any) -> str:
    return submit_job(start, {"Video": {}, **members}, {"Path": str(clip)}, LOCAL).job_id


def test_face_detection_reports_faces_in_every_frame(video_settings: Callable[..., None]) -> None:
    video_settings(video_sample_fps=30)  # above the clip's rate: every frame
    clip = shared_path("video/face-api-js-faces.mp4")
    response = _wait("GetFaceDetection", _local_job("StartFaceDetection", clip))
    assert response["JobStatus"] == "SUCCEEDED"
    metadata = response["VideoMetadata"]
    assert (metadata["FrameWidth"], metadata["FrameHeight"], metadata["Codec"]) == (820, 460,
                                                                                     "h264")
    assert metadata["DurationMillis"] == 209 and round(metadata["FrameRate"], 2) == 23.98
    per_frame = Counter(face["Timestamp"] for face in response["Faces"])
    assert sorted(per_frame) == [0, 42, 83, 125, 167]
    assert min(per_frame.values()) >= 3
    assert all({"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"} <= face["Face"].keys()
               for face in response["Faces"])
    # The same faces, page by page.
    pages, token = [], None
    while True:
        request = {"JobId": response["JobId"], "MaxResults": 7}
        if token:
            request["NextToken"] = token
        page = operations.call("GetFaceDetection", request)
        pages += page["Faces"]
        if not (token := page.get("NextToken")):
            break
    assert pages == response["Faces"]


def test_face_search_finds_a_person_enrolled_from_one_frame_in_later_frames(
    video_settings: Callable[..., None],
) -> None:
    video_settings(video_sample_fps=2)
    clip = shared_path(CROWD_CLIP)
    face_id = enrol_from_frame("crowd", clip, "first-frame-person", BOY_IN_FIRST_FRAME)
    job_id = _local_job("StartFaceSearch", clip, CollectionId="crowd", FaceMatchThreshold=90.0)
    response = _wait("GetFaceSearch", job_id)
    assert response["JobStatus"] == "SUCCEEDED", response.get("StatusMessage")
    persons = response["Persons"]
    assert persons, "the enrolled person was not found"
    for person in persons:
        match = person["FaceMatches"][0]
        assert match["Face"]["FaceId"] == face_id and match["Similarity"] >= 90.0
        assert match["Face"]["ExternalImageId"] == "first-frame-person"
    timestamps = sorted(p["Timestamp"] for p in persons)
    assert timestamps[0] == 0 and timestamps[-1] >= 3000  # followed through the whole clip
    # One person: one or two tracks, never one "person" per frame.
    assert len({p["Person"]["Index"] for p in persons}) <= 2 < len(persons)
    by_index = operations.call("GetFaceSearch", {"JobId": job_id, "SortBy": "INDEX"})
    indexes = [p["Person"]["Index"] for p in by_index["Persons"]]
    assert indexes == sorted(indexes) and len(indexes) == len(persons)


def test_client_request_token_idempotency_and_honest_failure(
    video_settings: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in s3_env("").items():
        monkeypatch.setenv(name, value)
    notes = tmp_path / "clip.mp4"
    notes.write_bytes(b"this is not a video" * 100)
    with s3_endpoint() as endpoint:
        upload(endpoint, "bucket", "clip.mp4", notes)
        video_settings(video_s3_endpoint_url=endpoint)
        request = {"Video": {"S3Object": {"Bucket": "bucket", "Name": "clip.mp4"}},
                   "ClientRequestToken": "token-1", "JobTag": "t"}
        first = operations.call("StartLabelDetection", request)["JobId"]
        assert operations.call("StartLabelDetection", request)["JobId"] == first
        with pytest.raises(IdempotentParameterMismatchException):
            operations.call("StartLabelDetection", {**request, "MinConfidence": 90.0})
        failed = _wait("GetLabelDetection", first, 60)
    # The job must end FAILED saying why.
    assert failed["JobStatus"] == "FAILED" and "unsupported" in failed["StatusMessage"]
    assert failed["JobTag"] == "t" and failed["Video"]["S3Object"]["Name"] == "clip.mp4"
    with pytest.raises(ResourceNotFoundException):
        operations.call("GetFaceSearch", {"JobId": first})  # another kind of job
    with pytest.raises(ResourceNotFoundException):
        operations.call("GetLabelDetection", {"JobId": "no-such-job"})


def test_a_missing_or_unreachable_s3_video_is_refused_at_start(
    api_server: ApiServer, rekognition: Any, video_settings: Callable[..., None],
) -> None:
    # Once answered with a JobId that failed later (issue 13, item 5).
    upload(api_server.s3_url, "videos", "present.mp4", shared_path("video/face-api-js-faces.mp4"))
    for video in ({"Bucket": "videos", "Name": "absent.mp4"},
                  {"Bucket": "no-such-bucket", "Name": "clip.mp4"}):
        with pytest.raises(rekognition.exceptions.InvalidS3ObjectException, match=video["Name"]):
            rekognition.start_label_detection(Video={"S3Object": video})
    video_settings(video_s3_endpoint_url="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(InvalidS3ObjectException, match="s3://b/clip.mp4"):
        operations.call("StartFaceDetection",
                        {"Video": {"S3Object": {"Bucket": "b", "Name": "clip.mp4"}}})


def test_s3_video_without_a_configured_endpoint_is_refused_at_once(
    video_settings: Callable[..., None],
) -> None:
    video_settings()
    with pytest.raises(InvalidS3ObjectException, match="video_s3_endpoint_url"):
        operations.call("StartFaceDetection",
                        {"Video": {"S3Object": {"Bucket": "b", "Name": "clip.mp4"}}})


def test_a_cancelled_job_stops_and_fails(video_settings: Callable[..., None]) -> None:
    video_settings(video_sample_fps=25)
    job_id = _local_job("StartFaceDetection", shared_path(CROWD_CLIP))
    deadline = time.monotonic() + 60
    while job_runner().store.get(LOCAL.account_id, job_id).progress == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    job_runner().store.request_cancel(LOCAL.account_id, job_id)
    response = _wait("GetFaceDetection", job_id, 60)
    assert response["JobStatus"] == "FAILED" and response["StatusMessage"] == "Cancelled"
    assert "Faces" not in response


def _server_pid(url: str) -> int:
    """The pid of the `oversight serve` listening on `url`'s port."""
    port = url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in arguments and port.encode() in arguments:
            return int(entry.name)
    raise AssertionError(f"no server process for {url}")


def test_s3_video_job_survives_a_killed_server(tmp_path: Path) -> None:
    clip = shared_path(CROWD_CLIP)
    topic = "arn:aws:sns:us-east-1:000000000000:video-jobs"
    with s3_endpoint() as endpoint, webhook_receiver() as hook:
        upload(endpoint, "videos", "crowd.mp4", clip)
        env = {
            **s3_env(endpoint),
            "OVERSIGHT_VIDEO_SAMPLE_FPS": "10",
            "OVERSIGHT_ENDPOINT_MAP": f"{topic}={hook.url}",
        }
        with running_server(tmp_path, env) as server:
            rekognition = client(server, server.access_key_id, server.secret_access_key)
            job_id = rekognition.start_face_detection(
                Video={"S3Object": {"Bucket": "videos", "Name": "crowd.mp4"}},
                NotificationChannel={"SNSTopicArn": topic,
                                     "RoleArn": "arn:aws:iam::000000000000:role/sns"},
                JobTag="restart-test",
            )["JobId"]
            deadline = time.monotonic() + 120
            while True:
                status = rekognition.get_face_detection(JobId=job_id)
                assert status["JobStatus"] == "IN_PROGRESS", status
                if status.get("StatusMessage", "").split()[1] not in ("0%", None):
                    break
                assert time.monotonic() < deadline, "the job never made progress"
                time.sleep(0.3)
            os.kill(_server_pid(server.url), signal.SIGKILL)
        with running_server(tmp_path, env) as server:
            rekognition = client(server, server.access_key_id, server.secret_access_key)
            deadline = time.monotonic() + 300
            while (done := rekognition.get_face_detection(JobId=job_id))["JobStatus"] == (
                    "IN_PROGRESS"):
                assert time.monotonic() < deadline, "the job is stuck IN_PROGRESS"
                time.sleep(0.5)
            assert done["JobStatus"] == "SUCCEEDED", done.get("StatusMessage")
            assert done["VideoMetadata"]["FrameWidth"] == 1920 and done["Faces"]
            assert done["JobTag"] == "restart-test"
            messages = hook.wait_for(1, 10)
    assert [(m["JobId"], m["Status"], m["API"]) for m in messages] == [
        (job_id, "SUCCEEDED", "FaceDetection")]


def _s3_clip(server: ApiServer, relative: str) -> dict[str, str]:
    """The shared clip uploaded to the session server's S3 endpoint, as a Video.S3Object."""
    upload(server.s3_url, "videos", relative, shared_path(relative))
    return {"Bucket": "videos", "Name": relative}


@pytest.mark.parametrize("kind, member", [("label_detection", "Labels"),
                                          ("person_tracking", "Persons")])
def test_boto3_label_detection_and_person_tracking_succeed(
    api_server: ApiServer, rekognition: Any, kind: str, member: str,
) -> None:
    # Their results once held numpy float32s, which the job store could not save (issue 13.1).
    video = {"S3Object": _s3_clip(api_server, "video/face-api-js-faces.mp4")}
    job_id = getattr(rekognition, f"start_{kind}")(Video=video)["JobId"]
    get = getattr(rekognition, f"get_{kind}")
    deadline = time.monotonic() + 180
    while (done := get(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
        assert time.monotonic() < deadline, "the job is stuck IN_PROGRESS"
        time.sleep(0.5)
    assert done["JobStatus"] == "SUCCEEDED", done.get("StatusMessage")
    assert done[member], f"no {member} in the clip of five people"
    if kind == "label_detection":  # how the page was sorted and aggregated, as AWS says it
        assert done["GetRequestMetadata"] == {"SortBy": "TIMESTAMP", "AggregateBy": "TIMESTAMPS"}
        by_name = get(JobId=job_id, SortBy="NAME", AggregateBy="SEGMENTS")
        assert by_name["GetRequestMetadata"] == {"SortBy": "NAME", "AggregateBy": "SEGMENTS"}


def test_cli_prints_the_get_response_with_progress_on_stderr(isolated_data_dir: Path) -> None:
    from tests.api_server import BIN

    clip = shared_path("video/face-api-js-faces.mp4")
    env = {**os.environ, "OVERSIGHT_DATA_DIR": str(isolated_data_dir),
           "OVERSIGHT_VIDEO_SAMPLE_FPS": "30"}
    done = subprocess.run([str(BIN / "oversight"), "video", "faces", str(clip)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout)
    assert response["JobStatus"] == "SUCCEEDED" and "NextToken" not in response
    assert sorted({face["Timestamp"] for face in response["Faces"]}) == [0, 42, 83, 125, 167]
    assert "100%" in done.stderr
    missing = subprocess.run([str(BIN / "oversight"), "video", "cancel", "no-such-job"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "ResourceNotFoundException" in missing.stderr
