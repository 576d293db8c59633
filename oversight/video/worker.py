"""A bounded pool of job workers that survives restarts honestly.

Each worker holds its job's lease and refreshes it with every progress report. On start, and
then every few seconds, the runner claims unfinished jobs whose owner is gone: a process on this
host that no longer exists, a lease released by a clean shutdown, or a lease not refreshed for
`lease_seconds`. A resumed job is analysed again from its start; after MAX_ATTEMPTS claims it is
failed with a message rather than retried forever.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from ..errors import RekognitionError
from .jobs import FAILED, SUCCEEDED, Job, JobStore, lease_cutoff

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
_HEARTBEAT_SECONDS = 1.0

Progress = Callable[[float], None]
# Runs a claimed job: returns (VideoMetadata, results) or raises; reports progress 0-100.
Executor = Callable[[Job, Progress], tuple[dict[str, Any], dict[str, Any]]]
FinishedHook = Callable[[Job], None]


class JobStopped(Exception):
    """The job must stop: cancelled, its lease lost, or the runner shutting down."""

    def __init__(self, reason: str, release: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.release = release


def _host_pid(owner: str) -> tuple[str, int] | None:
    host, _, rest = owner.partition(":")
    pid, _, _ = rest.partition(":")
    return (host, int(pid)) if pid.isdigit() else None


def owner_is_gone(owner: str | None) -> bool:
    """True when no live process holds this lease (only decidable for this host's owners)."""
    if owner is None:
        return True
    parsed = _host_pid(owner)
    if parsed is None or parsed[0] != socket.gethostname()[:40]:
        return False
    try:
        os.kill(parsed[1], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return parsed[1] == os.getpid() and owner != JobRunner.owner_id


class JobRunner:
    owner_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def __init__(
        self,
        store: JobStore,
        execute: Executor,
        workers: int,
        lease_seconds: float,
        on_finished: FinishedHook | None = None,
    ) -> None:
        self.store = store
        self._execute = execute
        self._lease_seconds = lease_seconds
        self._on_finished = on_finished
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="video-job")
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._stopping = threading.Event()
        self._scanner: threading.Thread | None = None

    # -- submission ----------------------------------------------------------------------------
    def submit(self, job_id: str, stale_before: datetime | None = None) -> None:
        with self._lock:
            if job_id in self._queued or self._stopping.is_set():
                return
            self._queued.add(job_id)
        self._pool.submit(self._run, job_id, stale_before)

    def start_resuming(self) -> None:
        """Claim orphaned jobs now and keep watching for expired leases."""
        if self._scanner is not None:
            return
        self.resume_orphans()
        self._scanner = threading.Thread(target=self._scan, name="video-job-scan", daemon=True)
        self._scanner.start()

    def resume_orphans(self) -> None:
        cutoff = lease_cutoff(self._lease_seconds)
        for job in self.store.unfinished():
            if owner_is_gone(job.owner):
                self.submit(job.job_id, stale_before=lease_cutoff(-86400))  # any heartbeat
            elif job.heartbeat_at is not None and job.heartbeat_at < cutoff:
                self.submit(job.job_id, stale_before=cutoff)

    def _scan(self) -> None:
        while not self._stopping.wait(max(1.0, self._lease_seconds / 3)):
            try:
                self.resume_orphans()
            except Exception:  # the store may be briefly unavailable; try again next round
                log.exception("scanning for orphaned video jobs failed")

    def shutdown(self, wait: bool = True) -> None:
        """Stop: running jobs give their lease back so the next start resumes them at once."""
        self._stopping.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # -- running -------------------------------------------------------------------------------
    def _run(self, job_id: str, stale_before: datetime | None) -> None:
        job: Job | None = None
        try:
            job = self.store.claim(job_id, self.owner_id, stale_before)
            if job is None:
                return
            if job.attempts > MAX_ATTEMPTS:
                self._finish(job, FAILED, f"Gave up after {MAX_ATTEMPTS} attempts: each one "
                             "ended without a result (server stopped or worker lost its lease)")
                return
            self._run_claimed(job)
        except Exception:
            log.exception("video job %s could not be run", job_id)
            if job is not None:
                # Leaving it IN_PROGRESS would make clients wait for a lease to expire and
                # then retry an analysis that fails the same way.
                self._fail_after_error(job)
        finally:
            with self._lock:
                self._queued.discard(job_id)

    def _run_claimed(self, job: Job) -> None:
        last_beat = time.monotonic()

        def progress(percent: float) -> None:
            nonlocal last_beat
            if self._stopping.is_set():
                raise JobStopped("server shutting down", release=True)
            if time.monotonic() - last_beat >= _HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                if not self.store.heartbeat(job.job_id, self.owner_id, percent):
                    raise JobStopped("Cancelled")

        try:
            metadata, results = self._execute(job, progress)
        except JobStopped as stop:
            if stop.release:
                self.store.release(job.job_id, self.owner_id)
            else:
                self._finish(job, FAILED, stop.reason)
            return
        except RekognitionError as error:
            self._finish(job, FAILED, error.message)
            return
        except Exception:
            log.exception("video job %s failed", job.job_id)
            self._finish(job, FAILED, "Internal error while analysing the video")
            return
        self._finish(job, SUCCEEDED, None, metadata, results)

    def _fail_after_error(self, job: Job) -> None:
        try:
            self._finish(job, FAILED, "Internal error while analysing the video or saving its "
                         f"results (job {job.job_id}); the server log has the details")
        except Exception:
            log.exception("video job %s could not be marked FAILED", job.job_id)

    def _finish(self, job: Job, status: str, message: str | None,
                metadata: dict[str, Any] | None = None,
                results: dict[str, Any] | None = None) -> None:
        if not self.store.finish(job.job_id, self.owner_id, status, message, metadata, results):
            return  # finished elsewhere (cancelled, or the lease went to another worker)
        if self._on_finished is not None:
            try:
                self._on_finished(self.store.get(job.account_id, job.job_id))
            except Exception:  # a notification failure must not undo a finished job
                log.exception("notification for video job %s failed", job.job_id)
