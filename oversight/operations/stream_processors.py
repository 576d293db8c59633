"""Stream processors: Create/Describe/List/Start/Stop/Update/DeleteStreamProcessor with
FaceSearch settings over live sources.

Rekognition names a Kinesis video stream as input and a Kinesis data stream as output; here the
`endpoint_map` setting maps the input ARN to an rtsp://, http(s):// (MJPEG/HLS) or file:// source
(a file plays in real time) and the output ARN to a webhook. Every match event goes, in order, to
the audit log (with the processor's purpose; if it cannot be written the processor stops), then
to `<data dir>/streams/<account>/<name>.jsonl` and the webhook; in cluster mode
(`OVERSIGHT_REDIS_URL`) to the processor's Redis stream, from which watchers on any node and the
webhook (at-least-once, with event ids) read it (video/fanout.py).

A running processor is held by one node through a lease in the store (video/processors.py): the
node refreshes it every third of `video_job_lease_seconds`, and every node takes over processors
that should run but whose lease is free, stale, or held by a dead process on its host.
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

from ..collections.pagination import decode_token, encode_token
from ..config import settings
from ..errors import InvalidParameterException, RekognitionError, ResourceInUseException
from ..governance import audit
from ..governance.gate import still_allowed
from ..governance.minors import adult_filter
from ..governance.records import base_fields
from ..governance.review import hold_stream_match
from ..rekognition import DEFAULT_MATCH_THRESHOLD, DEFAULT_PAGE_SIZE
from ..review.withhold import CASE_MEMBER
from ..store import get_engine
from ..video.endpoints import endpoint_for
from ..video.face_search import FaceSearcher, Search
from ..video.fanout import ProcessorEvents, WebhookDelivery
from ..video.jobs import lease_cutoff
from ..video.processors import (
    FAILED,
    RUNNING,
    STARTING,
    STOPPED,
    STOPPING,
    Processor,
    ProcessorStore,
)
from ..video.sinks import EventFollower, JsonlFollower, JsonlSink
from ..video.sources import Frame
from ..video.stream_run import StreamRun
from ..video.tracker import Tracker
from ..video.webhooks import WebhookSender, post_json
from ..video.worker import JobRunner, owner_is_gone
from . import operation
from .arns import STREAM_PROCESSOR, resource_arn
from .context import RequestContext
from .resources import check_tags, searchable_collection
from .video import collection_search

log = logging.getLogger(__name__)

# Live face search must not run below Rekognition's default threshold.
MIN_LIVE_THRESHOLD = DEFAULT_MATCH_THRESHOLD
LIVE_REEMBED_FRAMES = 30
# A face the detector misses for up to this many live frames (~0.4 s) keeps its track.
LIVE_MAX_MISSED_FRAMES = 10
# A running processor's key and policy are judged again at least this often (at a match).
OUTPUT_RECHECK_SECONDS = 2.0



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


def processor_arn(account_id: str, name: str) -> str:
    return resource_arn(STREAM_PROCESSOR, account_id, name)


def events_path(account_id: str, name: str) -> Path:
    return settings().data_dir / "streams" / account_id / f"{name}.jsonl"


def _face_search_settings(definition: dict[str, Any]) -> dict[str, Any]:
    face_search = (definition.get("Settings") or {}).get("FaceSearch")
    if not face_search:
        raise InvalidParameterException(
            "Settings.FaceSearch is required: Oversight's stream processors search faces "
            "(ConnectedHome label detection is not supported)")
    return face_search


def _check_definition(request: dict[str, Any], ctx: RequestContext) -> None:
    face_search = _face_search_settings(request)
    threshold = face_search.get("FaceMatchThreshold", MIN_LIVE_THRESHOLD)
    if threshold < MIN_LIVE_THRESHOLD:
        raise InvalidParameterException(
            f"Settings.FaceSearch.FaceMatchThreshold must be at least {MIN_LIVE_THRESHOLD:g} "
            "for live face search")
    searchable_collection({"CollectionId": face_search["CollectionId"]}, ctx)
    endpoint_for(request["Input"]["KinesisVideoStream"]["Arn"], "Kinesis video stream")
    output = request.get("Output") or {}
    if "S3Destination" in output:
        raise InvalidParameterException("Output.S3Destination is not supported: use "
                                        "Output.KinesisDataStream mapped to a webhook")
    if "KinesisDataStream" in output:
        endpoint_for(output["KinesisDataStream"]["Arn"], "Kinesis data stream")
    if request.get("NotificationChannel"):
        endpoint_for(request["NotificationChannel"]["SNSTopicArn"], "SNS topic")


# -- running ---------------------------------------------------------------------------------
def processor_search(processor: Processor) -> Search:
    """The processor's collection search at its FaceMatchThreshold."""
    face_search = _face_search_settings(processor.definition)
    return collection_search(processor.account_id, face_search["CollectionId"],
                             face_search.get("FaceMatchThreshold", MIN_LIVE_THRESHOLD))


def live_searcher(processor: Processor, max_side: int) -> FaceSearcher:
    """The processor's face search; a face that did not match is searched again when it has
    grown or after LIVE_REEMBED_FRAMES frames (about 2 s), to keep up with live video."""
    return FaceSearcher(processor_search(processor), max_side,
                        reembed_every=LIVE_REEMBED_FRAMES,
                        tracker=Tracker(max_missed=LIVE_MAX_MISSED_FRAMES),
                        admit=adult_filter(processor.access_key_id))


def _audit_sink(processor: Processor, session_id: str) -> Any:
    """Govern and record each match: under the key and purpose that started the processor, the
    gate re-judges it (key still active, policy still allowing the processor's stored settings)
    before the first match and then at least every OUTPUT_RECHECK_SECONDS, and a refusal stops
    the processor; each match is then written to the audit log (its identities withheld in a
    review case when the starter's policy says so)."""
    ctx = RequestContext(account_id=processor.account_id, access_key_id=processor.access_key_id,
                         purpose=processor.purpose, request_id=session_id)
    collection = _face_search_settings(processor.definition)["CollectionId"]
    judged = {"at": float("-inf")}

    def record(event: dict[str, Any], frame: Frame) -> dict[str, Any]:
        if time.monotonic() - judged["at"] >= OUTPUT_RECHECK_SECONDS:
            still_allowed(ctx, "StartStreamProcessor", {"Name": processor.name})
            judged["at"] = time.monotonic()
        # Under the starter's review clause the identities go to a review case first.
        event = hold_stream_match(ctx, processor.name, collection, event, frame.rgb)
        fields = base_fields(ctx, "stream_match")
        fields.update({
            "operation": "StreamProcessorMatch",
            "stream_processor": processor.name,
            "collection": collection,
            "frame_time_ms": event["FrameTimestampMillis"],
            "matches": [
                {"face_id": m["Face"]["FaceId"], "similarity": m["Similarity"],
                 "track": face["TrackIndex"]}
                for face in event["FaceSearchResponse"] for m in face["MatchedFaces"][:1]
            ],
        })
        if CASE_MEMBER in event:
            fields["review_case"] = event[CASE_MEMBER]
        audit.write(fields)
        return event
    return record


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
        processor_store().set(processor.account_id, processor.name, status=status,
                              status_message=message)
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


def _shared_events(account_id: str, name: str) -> ProcessorEvents | None:
    """The processor's Redis stream in cluster mode, else None."""
    url = settings().redis_url
    return ProcessorEvents(url, account_id, name) if url else None


def run_processor(processor: Processor, max_seconds: float | None = None) -> StreamRun:
    """Start the processor's thread on this node (status RUNNING, its lease held here)."""
    definition = processor.definition
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
    run = StreamRun(
        processor.name, session_id, endpoint_for(input_arn, "Kinesis video stream"), input_arn,
        live_searcher(processor, settings().video_detect_max_side),
        sinks, _on_stop(processor), required_sinks=[_audit_sink(processor, session_id)],
        max_seconds=max_seconds, regions=definition.get("RegionsOfInterest"),
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


def _lease_seconds() -> float:
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
    cutoff = lease_cutoff(_lease_seconds())
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
    while not _keeper_stop.wait(max(1.0, _lease_seconds() / 3)):
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


# -- operations ------------------------------------------------------------------------------
@operation("CreateStreamProcessor")
def create_stream_processor(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    _check_definition(request, ctx)
    check_tags(request.get("Tags") or {})
    definition = {k: v for k, v in request.items() if k != "Name"}
    processor_store().create(ctx.account_id, request["Name"], definition, ctx.access_key_id,
                             ctx.purpose)
    return {"StreamProcessorArn": processor_arn(ctx.account_id, request["Name"])}


@operation("DescribeStreamProcessor")
def describe_stream_processor(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    processor = processor_store().get(ctx.account_id, request["Name"])
    response: dict[str, Any] = {
        "Name": processor.name,
        "StreamProcessorArn": processor_arn(processor.account_id, processor.name),
        "Status": processor.status,
        "CreationTimestamp": processor.created_at,
        "LastUpdateTimestamp": processor.updated_at,
    }
    if processor.status_message:
        response["StatusMessage"] = processor.status_message
    for member in ("Input", "Output", "RoleArn", "Settings", "NotificationChannel", "KmsKeyId",
                   "RegionsOfInterest", "DataSharingPreference"):
        if member in processor.definition:
            response[member] = processor.definition[member]
    return response


@operation("ListStreamProcessors")
def list_stream_processors(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    processors = processor_store().list(ctx.account_id)
    scope = ("streamprocessors", ctx.account_id)
    start = decode_token(scope, request.get("NextToken"))
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    response: dict[str, Any] = {"StreamProcessors": [
        {"Name": p.name, "Status": p.status} for p in processors[start:start + size]]}
    if start + size < len(processors):
        response["NextToken"] = encode_token(scope, start + size)
    return response


@operation("StartStreamProcessor")
def start_stream_processor(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    processor = processor_store().get(ctx.account_id, request["Name"])
    if request.get("StartSelector"):
        raise InvalidParameterException(
            "StartSelector applies to Kinesis video fragments; live sources start now")
    stop = (request.get("StopSelector") or {}).get("MaxDurationInSeconds")
    # Whoever starts a session answers for its matches: they run under the starter's key and
    # purpose (recorded with each match, and judged again while it runs). Only one node wins
    # the start of a stopped processor.
    if not processor_store().start(ctx.account_id, processor.name, NODE,
                                   access_key_id=ctx.access_key_id, purpose=ctx.purpose):
        status = processor_store().get(ctx.account_id, processor.name).status
        raise ResourceInUseException(f"Stream processor {processor.name} is {status}")
    processor = processor_store().get(ctx.account_id, processor.name)
    return {"SessionId": run_processor(processor, max_seconds=stop).session_id}


@operation("StopStreamProcessor")
def stop_stream_processor(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    processor = processor_store().get(ctx.account_id, request["Name"])
    run = running(ctx.account_id, processor.name)
    if run is None:
        if processor.status in (RUNNING, STARTING):
            store = processor_store()
            if store.lease_is_live(processor, lease_cutoff(_lease_seconds())):
                # Another node runs it: its lease keeper stops it within a third of a lease.
                store.set(ctx.account_id, processor.name, status=STOPPING)
                return {}
            # Left RUNNING by a server that is gone: nothing runs it any more.
            store.set(ctx.account_id, processor.name, status=STOPPED,
                      status_message="Stopped on request (it was not running)")
            return {}
        raise ResourceInUseException(f"Stream processor {processor.name} is not running")
    processor_store().set(ctx.account_id, processor.name, status=STOPPING)
    run.stop()
    return {}


@operation("DeleteStreamProcessor")
def delete_stream_processor(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    processor = processor_store().get(ctx.account_id, request["Name"])
    run = running(ctx.account_id, processor.name)
    if run is not None:
        run.stop()
    processor_store().delete(ctx.account_id, processor.name)
    return {}


@operation("UpdateStreamProcessor")
def update_stream_processor(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    processor = processor_store().get(ctx.account_id, request["Name"])
    if processor.status not in (STOPPED, FAILED):
        raise ResourceInUseException(f"Stop stream processor {processor.name} to update it")
    if (request.get("SettingsForUpdate") or {}).get("ConnectedHomeForUpdate"):
        raise InvalidParameterException(
            "ConnectedHome settings do not apply to a face-search stream processor")
    definition = dict(processor.definition)
    for parameter in request.get("ParametersToDelete") or []:
        if parameter == "RegionsOfInterest":
            definition.pop("RegionsOfInterest", None)
    if "RegionsOfInterestForUpdate" in request:
        definition["RegionsOfInterest"] = request["RegionsOfInterestForUpdate"]
    if "DataSharingPreferenceForUpdate" in request:
        definition["DataSharingPreference"] = request["DataSharingPreferenceForUpdate"]
    processor_store().set(ctx.account_id, processor.name, definition=definition)
    return {}
