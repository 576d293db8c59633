"""Stream processors: Create/Describe/List/Start/Stop/Update/DeleteStreamProcessor with
FaceSearch settings over live sources.

Rekognition names a Kinesis video stream as input and a Kinesis data stream as output; here the
`endpoint_map` setting maps the input ARN to an rtsp://, http(s):// (MJPEG/HLS) or file:// source
(a file plays in real time) and the output ARN to a webhook. Every match event goes first to
the audit log (with the processor's purpose; if it cannot be written the processor stops), then
where video/runtime.py sends it. Running, leases and failover are video/runtime.py's; this module
gives it the processor's search and recorder.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..collections.pagination import decode_token, encode_token
from ..config import settings
from ..errors import InvalidParameterException, ResourceInUseException
from ..governance import audit
from ..governance.gate import still_allowed
from ..governance.minors import adult_filter
from ..governance.records import base_fields
from ..governance.review import hold_stream_match
from ..rekognition import DEFAULT_MATCH_THRESHOLD, DEFAULT_PAGE_SIZE
from ..review.withhold import CASE_MEMBER
from ..video.endpoints import endpoint_for
from ..video.face_search import FaceSearcher, Search
from ..video.jobs import lease_cutoff
from ..video.processors import (
    FAILED,
    RUNNING,
    STARTING,
    STOPPED,
    STOPPING,
    Processor,
)
from ..video.runtime import (
    NODE,
    STOP_AT,
    forget_processor,
    lease_seconds,
    processor_store,
    run_processor,
    running,
    serve_processors,
)
from ..video.sources import Frame
from ..video.tracker import Tracker
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



def processor_arn(account_id: str, name: str) -> str:
    return resource_arn(STREAM_PROCESSOR, account_id, name)


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
    definition = {k: v for k, v in processor.definition.items() if k != STOP_AT}
    if stop is not None:
        # Kept for a node that resumes the session: its deadline holds there too.
        definition[STOP_AT] = {"At": time.time() + stop, "Seconds": stop}
    # Whoever starts a session answers for its matches: they run under the starter's key and
    # purpose (recorded with each match, and judged again while it runs). Only one node wins
    # the start of a stopped processor.
    if not processor_store().start(ctx.account_id, processor.name, NODE, definition=definition,
                                   access_key_id=ctx.access_key_id, purpose=ctx.purpose):
        status = processor_store().get(ctx.account_id, processor.name).status
        raise ResourceInUseException(f"Stream processor {processor.name} is {status}")
    processor = processor_store().get(ctx.account_id, processor.name)
    return {"SessionId": run_processor(processor).session_id}


@operation("StopStreamProcessor")
def stop_stream_processor(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    processor = processor_store().get(ctx.account_id, request["Name"])
    run = running(ctx.account_id, processor.name)
    if run is None:
        if processor.status in (RUNNING, STARTING):
            store = processor_store()
            if store.lease_is_live(processor, lease_cutoff(lease_seconds())):
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
    forget_processor(ctx.account_id, processor.name)
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


serve_processors(
    lambda processor: live_searcher(processor, settings().video_detect_max_side), _audit_sink)
