"""This process's video runtime: the worker pool of stored-video jobs, the stream processors
running on this node, and the leases that make each run on exactly one node of a cluster.

What a job does (`execute`, `on_finished`) and how a processor searches and records its matches
(`searcher`, `recorder`) are the operations' business: `oversight/operations/video.py` and
`stream_processors.py` hand them over with `serve_jobs` and `serve_processors` when imported, so
this module depends on no operation, governance or collection code.

A running processor is held by one node through a lease in the store (video/processors.py): the
node refreshes it every third of `video_job_lease_seconds`, and every node takes over processors
that should run but whose lease is free, stale, or held by a dead process on its host. Match
events go, after the recorder (the audit log), to `<data dir>/streams/<account>/<name>.jsonl` and
the webhook; in cluster mode (`OVERSIGHT_REDIS_URL`) to the processor's Redis stream, from which
watchers on any node and the webhook (at-least-once, with event ids) read them (video/fanout.py).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..config import settings
from ..errors import RekognitionError
from ..store import get_engine
from .endpoints import endpoint_for
from .face_search import FaceSearcher
from .fanout import ProcessorEvents, WebhookDelivery
from .jobs import Job, JobStore, lease_cutoff
from .processors import RUNNING, STARTING, STOPPED, STOPPING, Processor, ProcessorStore
from .sinks import EventFollower, JsonlFollower, JsonlSink
from .sources import Frame
from .stream_run import StreamRun
from .webhooks import WebhookSender, post_json
from .worker import Executor, FinishedHook, JobRunner, Progress, owner_is_gone

log = logging.getLogger(__name__)

# Where a started session's StopSelector is kept in the processor's definition, as {"At": epoch
# seconds, "Seconds": MaxDurationInSeconds} (never answered by DescribeStreamProcessor, which
# names the members it returns).
STOP_AT = "OversightStopAt"

# Records one match before any sink sees it (and may rewrite it); raising stops the processor.
Recorder = Callable[[dict[str, Any], Frame], dict[str, Any]]


@dataclass
class _Handlers:
    execute: Executor | None = None
    job_finished: FinishedHook | None = None
    searcher: Callable[[Processor], FaceSearcher] | None = None
    recorder: Callable[[Processor, str], Recorder] | None = None


_handlers = _Handlers()


def serve_jobs(execute: Executor, on_finished: FinishedHook) -> None:
    """How a claimed job is analysed, and what follows its end (operations/video.py)."""
    _handlers.execute, _handlers.job_finished = execute, on_finished


def serve_processors(searcher: Callable[[Processor], FaceSearcher],
                     recorder: Callable[[Processor, str], Recorder]) -> None:
    """A processor's live face search, and the recorder of its session's matches (governed and
    audited: operations/stream_processors.py)."""
    _handlers.searcher, _handlers.recorder = searcher, recorder


# This node's name in processor leases (the same as its video job leases).
NODE = JobRunner.owner_id
# A watcher asks the store whether the processor still runs at most this often (cluster mode).
_STATUS_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class _Running:
    run: StreamRun
    sender: WebhookSender | WebhookDelivery | None
    # Size of the JSONL file when this session started: SSE clients see the whole session.
    events_offset: int
    # Set when another node took the lease (or the processor was deleted): stop, say nothing.
    handed_over: threading.Event = field(default_factory=threading.Event)


_running: dict[tuple[str, str], _Running] = {}
_shutting_down = threading.Event()
_running_lock = threading.Lock()
_keeper_stop = threading.Event()
_keeper: list[threading.Thread] = []


def processor_store() -> ProcessorStore:
    return ProcessorStore(get_engine())


def events_path(account_id: str, name: str) -> Path:
    return settings().data_dir / "streams" / account_id / f"{name}.jsonl"


def _on_stop(processor: Processor) -> Any:
    def stopped(status: str, message: str) -> None:
        with _running_lock:
            entry = _running.pop((processor.account_id, processor.name), None)
        if entry is not None and entry.sender is not None:
            entry.sender.close()
        if _shutting_down.is_set():
            # Stays RUNNING in the store, its lease handed back: another node, or the next
            # start of this one, resumes it at once.
            processor_store().release(processor.account_id, processor.name, NODE)
            return
        if entry is not None and entry.handed_over.is_set():
            return  # another node runs it now (or it was deleted)
        if not processor_store().set(processor.account_id, processor.name, held_by=NODE,
                                     status=status, status_message=message):
            return  # the lease went to another node meanwhile: its run decides

        channel = processor.definition.get("NotificationChannel")
        if channel:
            try:
                post_json(endpoint_for(channel["SNSTopicArn"], "SNS topic"),
                          {"StreamProcessor": processor.name, "Status": status,
                           "StatusMessage": message})
            except (OSError, RekognitionError) as error:
                log.warning("stream processor %s: status notification failed: %s",
                            processor.name, error)
    return stopped


def forget_processor(account_id: str, name: str) -> None:
    """A deleted processor's match events leave Redis too (cluster mode)."""
    shared = _shared_events(account_id, name)
    if shared is not None:
        shared.forget()


def _shared_events(account_id: str, name: str) -> ProcessorEvents | None:
    """The processor's Redis stream in cluster mode, else None."""
    url = settings().redis_url
    return ProcessorEvents(url, account_id, name) if url else None


def run_processor(processor: Processor) -> StreamRun:
    """Start the processor's thread on this node (status RUNNING, its lease held here). A
    session's StopSelector deadline (`STOP_AT` in its definition) holds on whichever node
    resumes it."""
    definition = processor.definition
    stop = definition.get(STOP_AT) or {}
    max_seconds = max(0.0, stop["At"] - time.time()) if stop else None
    session_id = str(uuid.uuid4())
    input_arn = definition["Input"]["KinesisVideoStream"]["Arn"]
    jsonl = events_path(processor.account_id, processor.name)
    offset = jsonl.stat().st_size if jsonl.exists() else 0
    sinks: list[Any] = [JsonlSink(jsonl)]
    sender: WebhookSender | WebhookDelivery | None = None
    output = (definition.get("Output") or {}).get("KinesisDataStream")
    shared = _shared_events(processor.account_id, processor.name)
    if shared is not None:
        shared.start_session()
        sinks.append(shared.append)
        if output:
            sender = WebhookDelivery(shared, endpoint_for(output["Arn"], "Kinesis data stream"))
    elif output:
        sender = WebhookSender(endpoint_for(output["Arn"], "Kinesis data stream"))
        sinks.append(sender.send)
    if _handlers.searcher is None or _handlers.recorder is None:
        raise RuntimeError("no processor search: import oversight.operations first")
    run = StreamRun(
        processor.name, session_id, endpoint_for(input_arn, "Kinesis video stream"), input_arn,
        _handlers.searcher(processor),
        sinks, _on_stop(processor), required_sinks=[_handlers.recorder(processor, session_id)],
        max_seconds=max_seconds, stop_selector_seconds=stop.get("Seconds"),
        regions=definition.get("RegionsOfInterest"),
    )
    with _running_lock:
        _running[(processor.account_id, processor.name)] = _Running(run, sender, offset)
    processor_store().set(processor.account_id, processor.name, status=RUNNING,
                          status_message=None, session_id=session_id, owner=NODE)
    run.start()
    return run


def running(account_id: str, name: str) -> StreamRun | None:
    with _running_lock:
        entry = _running.get((account_id, name))
    return entry.run if entry else None


def processor_events(account_id: str, name: str) -> tuple[EventFollower, Callable[[], bool]]:
    """A follower of the processor's match events in its current session (from now on when it
    is not running; ResourceNotFoundException if it does not exist), and whether it still runs:
    a watcher stops once it is not running and every line is out. In cluster mode both come
    from the shared engines, whichever node runs the processor."""
    processor_store().get(account_id, name)
    shared = _shared_events(account_id, name)
    if shared is not None:
        return shared.follower(), _runs_anywhere(account_id, name)
    with _running_lock:
        entry = _running.get((account_id, name))
    follower = JsonlFollower(events_path(account_id, name),
                             start=entry.events_offset if entry else None)
    return follower, lambda: running(account_id, name) is not None


def _runs_anywhere(account_id: str, name: str) -> Callable[[], bool]:
    """Whether the processor still runs on some node, by its status (read at most once per
    _STATUS_POLL_SECONDS)."""
    seen = {"at": float("-inf"), "runs": True}

    def runs() -> bool:
        if time.monotonic() - seen["at"] >= _STATUS_POLL_SECONDS:
            try:
                status = processor_store().get(account_id, name).status
            except RekognitionError:
                status = STOPPED
            seen.update(at=time.monotonic(), runs=status in (RUNNING, STARTING, STOPPING))
        return bool(seen["runs"])

    return runs


def lease_seconds() -> float:
    return settings().video_job_lease_seconds


def keep_leases() -> None:
    """One round of the lease keeper: refresh the lease of each processor running here (stop
    the ones another node took, or that were asked to stop through another node), then take
    over processors that should run and whose lease nobody live holds."""
    store = processor_store()
    with _running_lock:
        entries = dict(_running)
    for (account_id, name), entry in entries.items():
        status = store.heartbeat(account_id, name, NODE)
        if status is None:
            entry.handed_over.set()
            entry.run.stop(wait=0)
        elif status == STOPPING:
            entry.run.stop(wait=0)
    cutoff = lease_cutoff(lease_seconds())
    for processor in store.list():
        if processor.status not in (RUNNING, STARTING) or running(
                processor.account_id, processor.name) is not None:
            continue
        if store.lease_is_live(processor, cutoff):
            continue
        # A dead owner on this host is known at once: any heartbeat of it is stale.
        stale = cutoff + timedelta(days=1) if owner_is_gone(processor.owner) else cutoff
        claimed = store.claim(processor.account_id, processor.name, NODE, stale)
        if claimed is not None and not _shutting_down.is_set():
            log.info("stream processor %s/%s: taken over from %s", processor.account_id,
                     processor.name, processor.owner)
            run_processor(claimed)


def _keep_leases_forever() -> None:
    while not _keeper_stop.wait(max(1.0, lease_seconds() / 3)):
        try:
            keep_leases()
        except Exception:  # the store may be briefly unavailable: try again next round
            log.exception("stream processor lease round failed")


def resume_processors() -> None:
    """Server start: take over processors whose lease nobody live holds (those a stopped
    server left running included), and keep doing so while the server runs."""
    keep_leases()
    if not _keeper:
        _keeper_stop.clear()
        keeper = threading.Thread(target=_keep_leases_forever, name="stream-leases", daemon=True)
        _keeper.append(keeper)
        keeper.start()


def stop_processors() -> None:
    """Server stop: processors stop but stay RUNNING in the store, their leases handed back,
    so that another node or the next start resumes them."""
    _keeper_stop.set()
    for keeper in _keeper:
        keeper.join(30)
    _keeper.clear()
    _shutting_down.set()
    with _running_lock:
        runs = [entry.run for entry in _running.values()]
    for run in runs:
        run.stop()  # joins the run's thread, whose on-stop sees the flag
    _shutting_down.clear()


# -- the job runner ------------------------------------------------------------------------------
_runners: dict[str, JobRunner] = {}
_runners_lock = threading.Lock()


def _execute(job: Job, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    if _handlers.execute is None:
        raise RuntimeError("no job executor: oversight.operations.video was not imported")
    return _handlers.execute(job, progress)


def _job_finished(job: Job) -> None:
    if _handlers.job_finished is not None:
        _handlers.job_finished(job)


def job_runner() -> JobRunner:
    """The process's worker pool for the configured store (created on first use)."""
    config = settings()
    with _runners_lock:
        runner = _runners.get(config.sqlalchemy_url)
        if runner is None:
            runner = JobRunner(
                JobStore(get_engine(config.sqlalchemy_url)),
                _execute,
                workers=config.video_job_workers,
                lease_seconds=config.video_job_lease_seconds,
                on_finished=_job_finished,
            )
            _runners[config.sqlalchemy_url] = runner
        return runner


def start_video_services() -> None:
    """Server start: take over jobs a stopped server left unfinished (video/worker.py) and
    restart the stream processors it left running."""
    job_runner().start_resuming()
    resume_processors()


def stop_video_services() -> None:
    """Server stop: stream processors stop; running jobs hand their lease back so the next
    start resumes them at once."""
    stop_processors()
    with _runners_lock:
        runners = list(_runners.values())
        _runners.clear()
    for runner in runners:
        runner.shutdown()


