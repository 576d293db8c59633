"""The video job and stream processor stores on SQLite and PostgreSQL: idempotency, leases,
cancellation, and the runner taking over a job whose worker process is gone."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from oversight.errors import (
    IdempotentParameterMismatchException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from oversight.store import get_engine
from oversight.video.jobs import FAILED, IN_PROGRESS, SUCCEEDED, Job, JobStore, lease_cutoff
from oversight.video.processors import RUNNING, STARTING, STOPPED, STOPPING, ProcessorStore
from oversight.video.worker import JobRunner, Progress

SOURCE = {"Path": "/videos/clip.mp4"}


def test_client_request_token_returns_the_same_job(store_url: str) -> None:
    jobs = JobStore(get_engine(store_url))
    request = {"Video": {}, "ClientRequestToken": "abc", "JobTag": "x"}
    first, created = jobs.create("111111111111", "StartFaceDetection", request, SOURCE)
    again, created_again = jobs.create("111111111111", "StartFaceDetection", request, SOURCE)
    assert created and not created_again and again.job_id == first.job_id
    other_account, _ = jobs.create("222222222222", "StartFaceDetection", request, SOURCE)
    assert other_account.job_id != first.job_id
    with pytest.raises(IdempotentParameterMismatchException):
        jobs.create("111111111111", "StartFaceDetection", {**request, "JobTag": "y"}, SOURCE)
    with pytest.raises(ResourceNotFoundException):
        jobs.get("222222222222", first.job_id)  # another tenant's job is not found
    # The account's quota of unfinished jobs; a retry of an existing job is not a new one.
    with pytest.raises(LimitExceededException):
        jobs.create("111111111111", "StartFaceDetection", {"Video": {}}, SOURCE,
                    max_in_progress=1)
    assert jobs.create("111111111111", "StartFaceDetection", request, SOURCE,
                       max_in_progress=1)[0].job_id == first.job_id


def test_one_lease_at_a_time_and_stale_leases_are_taken_over(store_url: str) -> None:
    jobs = JobStore(get_engine(store_url))
    job, _ = jobs.create("111111111111", "StartFaceSearch", {"Video": {}}, SOURCE)
    assert jobs.claim(job.job_id, "host:1:a") is not None
    assert jobs.claim(job.job_id, "host:2:b") is None
    assert jobs.heartbeat(job.job_id, "host:1:a", 40.0)
    assert not jobs.heartbeat(job.job_id, "host:2:b", 50.0)  # not the lease holder
    time.sleep(0.05)
    taken = jobs.claim(job.job_id, "host:2:b", stale_before=lease_cutoff(0))
    assert taken is not None and taken.attempts == 2 and taken.progress == 40.0
    assert not jobs.finish(job.job_id, "host:1:a", SUCCEEDED)  # the old worker lost the lease
    jobs.release(job.job_id, "host:2:b")
    assert jobs.claim(job.job_id, "host:3:c") is not None  # released: claimable at once
    assert jobs.finish(job.job_id, "host:3:c", SUCCEEDED, None, {"FrameRate": 25.0},
                       {"Faces": []})
    done = jobs.get("111111111111", job.job_id)
    assert (done.status, done.progress, done.owner) == (SUCCEEDED, 100.0, None)


def test_cancel_reaches_the_worker_or_fails_a_waiting_job(store_url: str) -> None:
    jobs = JobStore(get_engine(store_url))
    waiting, _ = jobs.create("111111111111", "StartLabelDetection", {"Video": {}}, SOURCE)
    assert jobs.request_cancel("111111111111", waiting.job_id).status == FAILED
    running, _ = jobs.create("111111111111", "StartTextDetection", {"Video": {}}, SOURCE)
    jobs.claim(running.job_id, "host:1:a")
    assert jobs.request_cancel("111111111111", running.job_id).status == IN_PROGRESS
    assert not jobs.heartbeat(running.job_id, "host:1:a", 10.0)  # the worker is told to stop


def test_runner_resumes_a_job_whose_worker_process_is_gone(store_url: str) -> None:
    jobs = JobStore(get_engine(store_url))
    job, _ = jobs.create("111111111111", "StartFaceDetection", {"Video": {}}, SOURCE)
    # A pid that cannot exist on this host: its worker is gone for sure.
    assert jobs.claim(job.job_id, f"{socket.gethostname()[:40]}:999999999:dead") is not None
    seen: dict[str, int] = {}

    def execute(claimed: Job, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
        seen[claimed.job_id] = claimed.attempts
        progress(50.0)
        return {"FrameRate": 25.0}, {"Faces": [{"Timestamp": 0}]}

    runner = JobRunner(jobs, execute, workers=1, lease_seconds=3600)
    try:
        runner.start_resuming()
        deadline = time.monotonic() + 30
        while jobs.get("111111111111", job.job_id).status == IN_PROGRESS:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        runner.shutdown()
    done = jobs.get("111111111111", job.job_id)
    assert done.status == SUCCEEDED and done.results == {"Faces": [{"Timestamp": 0}]}
    assert seen[job.job_id] == 2  # (on PostgreSQL other tests' unclaimed jobs run too)


def test_results_that_cannot_be_saved_fail_the_job_at_once_saying_so(
    store_url: str,
) -> None:
    jobs = JobStore(get_engine(store_url))
    job, _ = jobs.create("111111111111", "StartLabelDetection", {"Video": {}}, SOURCE)

    def execute(claimed: Job, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"FrameRate": 25.0}, {"Labels": [{"Timestamp": 0, "Label": object()}]}

    runner = JobRunner(jobs, execute, workers=1, lease_seconds=3600)
    try:
        runner.submit(job.job_id)
        deadline = time.monotonic() + 30
        while jobs.get("111111111111", job.job_id).status == IN_PROGRESS:
            assert time.monotonic() < deadline, "the job stayed IN_PROGRESS (issue 13.1)"
            time.sleep(0.05)
    finally:
        runner.shutdown()
    failed = jobs.get("111111111111", job.job_id)
    assert failed.status == FAILED and failed.attempts == 1
    assert "saving its results" in (failed.status_message or "")


def test_stream_processor_store(store_url: str) -> None:
    processors = ProcessorStore(get_engine(store_url))
    created = processors.create("111111111111", "door", {"RoleArn": "r"}, "AKIA1", "case 7")
    assert (created.status, created.purpose) == (STOPPED, "case 7")
    with pytest.raises(ResourceAlreadyExistsException):
        processors.create("111111111111", "door", {}, None, None)
    processors.create("222222222222", "door", {}, None, None)  # another tenant's namesake
    processors.set("111111111111", "door", status=RUNNING, session_id="s1")
    assert [(p.name, p.status) for p in processors.list("111111111111")] == [("door", RUNNING)]
    processors.delete("111111111111", "door")
    with pytest.raises(ResourceNotFoundException):
        processors.get("111111111111", "door")
    assert processors.get("222222222222", "door").status == STOPPED


def test_one_node_holds_a_processor_and_another_takes_over_a_stale_lease(store_url: str) -> None:
    processors = ProcessorStore(get_engine(store_url))
    name = f"door-{time.monotonic_ns()}"
    processors.create("123456789012", name, {"Input": {}}, None, None)
    # Two nodes on other hosts (their processes cannot be looked up from here).
    one, two = "host-a:101:aaaa", "host-b:202:bbbb"
    assert processors.start("123456789012", name, one)
    assert not processors.start("123456789012", name, two)  # started once, whoever asks
    fresh = lease_cutoff(30)
    processor = processors.get("123456789012", name)
    assert processor.status == STARTING and processors.lease_is_live(processor, fresh)
    assert processors.claim("123456789012", name, two, fresh) is None
    assert processors.heartbeat("123456789012", name, one) == STARTING

    stale = lease_cutoff(-1)  # as if `one` stopped refreshing a lease ago
    assert not processors.lease_is_live(processor, stale)
    taken = processors.claim("123456789012", name, two, stale)
    assert taken is not None and taken.owner == two
    assert processors.heartbeat("123456789012", name, one) is None  # one learns it lost it
    # ... and cannot record an end for the run that is now two's.
    assert not processors.set("123456789012", name, held_by=one, status=STOPPED)
    assert processors.get("123456789012", name).status == STARTING
    processors.set("123456789012", name, status=STOPPING)
    assert processors.heartbeat("123456789012", name, two) == STOPPING
    processors.release("123456789012", name, two)
    assert processors.get("123456789012", name).owner is None
    processors.set("123456789012", name, status=STOPPED)
    assert processors.claim("123456789012", name, one, stale) is None  # stopped: nobody runs it
