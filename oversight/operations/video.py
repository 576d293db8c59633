"""Stored-video jobs: Start* creates a persisted job run by the worker pool, Get* pages its
results in Rekognition's shapes (timestamps in ms, JobStatus, VideoMetadata, NextToken).

While a job runs, StatusMessage carries its progress ("Analysed 40% of the video"). A finished
job's NotificationChannel.SNSTopicArn is mapped to a webhook by the `endpoint_map` setting and
receives Rekognition's completion message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import cv2

from ..analysis.faces import ALL_ATTRIBUTES, DEFAULT_ATTRIBUTES
from ..analysis.people import detect_people
from ..config import settings
from ..errors import InvalidParameterException
from ..images import DecodedImage
from ..rekognition import DEFAULT_MATCH_THRESHOLD
from ..video.endpoints import endpoint_for
from ..video.face_search import FaceSearcher, Search
from ..video.inputs import check_s3_video, local_video
from ..video.jobs import IN_PROGRESS, Job
from ..video.pipeline import analyse_video
from ..video.results import aggregate_segments, page
from ..video.runtime import job_runner, serve_jobs
from ..video.segments import SegmentFilters, SegmentTask
from ..video.sources import VideoInfo, probe
from ..video.tasks import (
    FaceDetectionTask,
    FaceSearchTask,
    FrameTask,
    PerFrameTask,
    PersonTrackingTask,
)
from ..video.webhooks import post_json
from ..video.worker import Progress
from . import call, matching, operation
from .context import RequestContext
from .face_detail import face_detail
from .face_matching import face_api
from .resources import searchable_collection

log = logging.getLogger(__name__)

# Rekognition's default quota of concurrent stored-video jobs per account.
MAX_JOBS_IN_PROGRESS = 20
# Matches kept per tracked face (Rekognition's FaceMatches per person).
MAX_MATCHES_PER_FACE = 5
# Segment detection needs consecutive frames to see cuts: analyse up to this many per second.
SEGMENT_SAMPLE_FPS = 10.0
# Members of each Get* response that hold the results, and the entry key inside each.
RESULT_MEMBERS = {
    "StartFaceDetection": "Faces",
    "StartFaceSearch": "Persons",
    "StartLabelDetection": "Labels",
    "StartTextDetection": "TextDetections",
    "StartContentModeration": "ModerationLabels",
    "StartSegmentDetection": "Segments",
    "StartPersonTracking": "Persons",
}


# -- frame tasks for each Start* operation ---------------------------------------------------
def _jpeg(image: DecodedImage) -> bytes:
    ok, data = cv2.imencode(".jpg", image.bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise InvalidParameterException("A video frame could not be encoded")
    return data.tobytes()


# Start* jobs answered by an image operation on each frame: (operation, result member, entry
# key, model version member). The same code answers images and videos.
_PER_FRAME = {
    "StartLabelDetection": ("DetectLabels", "Labels", "Label", "LabelModelVersion"),
    "StartTextDetection": ("DetectText", "TextDetections", "TextDetection", "TextModelVersion"),
    "StartContentModeration": (
        "DetectModerationLabels", "ModerationLabels", "ModerationLabel", "ModerationModelVersion"),
}


def _per_frame_request(job: Job) -> dict[str, Any]:
    """The image operation's parameters that the Start* request carries."""
    request = job.request
    if job.operation == "StartTextDetection":
        return {"Filters": request["Filters"]} if request.get("Filters") else {}
    extra: dict[str, Any] = {"MinConfidence": request.get("MinConfidence", 50.0)}
    general = (request.get("Settings") or {}).get("GeneralLabels")
    if general:
        extra["Settings"] = {"GeneralLabels": general}
    return extra


def _per_frame_task(job: Job) -> PerFrameTask:
    name, member, entry, version = _PER_FRAME[job.operation]
    extra = _per_frame_request(job)
    ctx = RequestContext(account_id=job.account_id)

    def analyse(image: DecodedImage) -> dict[str, Any]:
        return call(name, {"Image": {"Bytes": _jpeg(image)}, **extra}, ctx)

    return PerFrameTask(analyse, member, entry, version)


def _people(image: DecodedImage) -> list[dict[str, Any]]:
    """Person boxes as Rekognition's BoundingBox ratios, most confident first."""
    return [
        {"BoundingBox": image.bounding_box(p.box)}
        for p in detect_people(image)
    ]


def _describe(attributes: frozenset[str]) -> Callable[[DecodedImage, Any], dict[str, Any]]:
    def describe(image: DecodedImage, face: Any) -> dict[str, Any]:
        return face_detail(image, face, attributes)

    return describe


def collection_search(account_id: str, collection_id: str, threshold: float) -> Search:
    """Search one collection: embedding -> Rekognition FaceMatch dicts at or above
    `threshold`, best first (ResourceNotFoundException if the collection is gone)."""
    ctx = RequestContext(account_id=account_id)
    collection = searchable_collection({"CollectionId": collection_id}, ctx)

    def search(vector: Any) -> list[dict[str, Any]]:
        return [
            {"Similarity": similarity, "Face": face_api(match.face)}
            for match, similarity in matching.search(collection, vector, MAX_MATCHES_PER_FACE,
                                                     threshold)
        ]

    return search


def _tasks(job: Job, info: VideoInfo) -> tuple[list[FrameTask], float]:
    """The frame tasks of a job and the frame rate they need."""
    request, config = job.request, settings()
    fps = config.video_sample_fps
    max_side = config.video_detect_max_side
    if job.operation == "StartFaceDetection":
        attributes = (
            ALL_ATTRIBUTES if request.get("FaceAttributes") == "ALL" else (DEFAULT_ATTRIBUTES)
        )
        return [FaceDetectionTask(_describe(attributes), max_side)], fps
    if job.operation == "StartFaceSearch":
        # Stored video has no deadline: every new face track is searched on its first frame.
        searcher = FaceSearcher(
            collection_search(job.account_id, request["CollectionId"],
                              request.get("FaceMatchThreshold", DEFAULT_MATCH_THRESHOLD)),
            max_side, max_embeds=None)
        return [FaceSearchTask(searcher, _describe(DEFAULT_ATTRIBUTES))], fps
    if job.operation in _PER_FRAME:
        return [_per_frame_task(job)], fps
    if job.operation == "StartPersonTracking":
        return [PersonTrackingTask(_people)], fps
    if job.operation == "StartSegmentDetection":
        filters = SegmentFilters.from_request(request.get("Filters"))
        task = SegmentTask(info, list(request["SegmentTypes"]), filters)
        return [task], SEGMENT_SAMPLE_FPS
    raise InvalidParameterException(f"{job.operation} is not a video job")


# Jobs of other kinds that share the job store and worker pool (StartMediaAnalysisJob), by
# the operation that starts them; registered by their module.
OTHER_JOBS: dict[str, Callable[[Job, Progress], tuple[dict[str, Any], dict[str, Any]]]] = {}


def execute(job: Job, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a claimed job to the end: (VideoMetadata, results)."""
    if job.operation in OTHER_JOBS:
        return OTHER_JOBS[job.operation](job, progress)
    with local_video(job.source) as path:
        info = probe(path)
        tasks, fps = _tasks(job, info)
        analyse_video(path, tasks, fps, progress, info)
    results: dict[str, Any] = {"SampledFramesPerSecond": min(fps, info.frame_rate)}
    for task in tasks:
        results.update(task.results())
    return info.to_api(), results


# -- notifications ---------------------------------------------------------------------------
def notify(job: Job) -> None:
    """POST Rekognition's completion message to the webhook the SNS topic is mapped to."""
    channel = job.request.get("NotificationChannel")
    if not channel:
        return
    s3 = job.source.get("S3Object") or {}
    message = {
        "JobId": job.job_id,
        "Status": job.status,
        "API": job.operation.removeprefix("Start"),
        "JobTag": job.request.get("JobTag"),
        "Timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "Video": {"S3ObjectName": s3.get("Name"), "S3Bucket": s3.get("Bucket")},
    }
    post_json(endpoint_for(channel["SNSTopicArn"], "SNS topic"), message)


def submit_job(
    operation_name: str, request: dict[str, Any], source: dict[str, Any], ctx: RequestContext
) -> Job:
    """Create (or find, for a repeated ClientRequestToken) a job and queue it."""
    if request.get("NotificationChannel"):
        endpoint_for(request["NotificationChannel"]["SNSTopicArn"], "SNS topic")
    runner = job_runner()
    job, created = runner.store.create(ctx.account_id, operation_name, request, source,
                                       max_in_progress=MAX_JOBS_IN_PROGRESS,
                                       access_key_id=ctx.access_key_id, purpose=ctx.purpose)
    if created:
        runner.submit(job.job_id)
    return job


def _start(operation_name: str) -> Callable[[dict[str, Any], RequestContext], dict[str, Any]]:
    def start(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        video = request.get("Video") or {}
        if "S3Object" not in video:
            raise InvalidParameterException("Video.S3Object is required")
        if operation_name == "StartFaceSearch":
            searchable_collection(request, ctx)
        check_s3_video(video["S3Object"])
        return {
            "JobId": submit_job(
                operation_name, request, {"S3Object": video["S3Object"]}, ctx
            ).job_id
        }

    return start


# -- Get* ------------------------------------------------------------------------------------
# Get* answers that repeat how they were sorted and aggregated (GetRequestMetadata).
_ECHOES_REQUEST = ("StartLabelDetection", "StartContentModeration")


def job_response(job: Job, request: dict[str, Any]) -> dict[str, Any]:
    """The Get* response for a job: status, metadata and a page of results."""
    response: dict[str, Any] = {"JobStatus": job.status, "JobId": job.job_id}
    if job.request.get("JobTag"):
        response["JobTag"] = job.request["JobTag"]
    if "S3Object" in job.source:
        response["Video"] = {"S3Object": job.source["S3Object"]}
    if job.status == IN_PROGRESS:
        response["StatusMessage"] = f"Analysed {job.progress:.0f}% of the video"
        return response
    if job.status_message:
        response["StatusMessage"] = job.status_message
    if job.video_metadata is not None:
        metadata = job.video_metadata
        segment_job = job.operation == "StartSegmentDetection"
        response["VideoMetadata"] = [metadata] if segment_job else metadata
    results = job.results or {}
    member = RESULT_MEMBERS[job.operation]
    entries = results.get(member, [])
    if request.get("AggregateBy") == "SEGMENTS":
        entry = "Label" if member == "Labels" else "ModerationLabel"
        gap = round(1000 / results.get("SampledFramesPerSecond", 1.0))
        entries = aggregate_segments(entries, entry, gap)
    if job.results is not None:
        response.update(page(job.account_id, job.job_id, entries, member, request))
    if job.operation == "StartSegmentDetection" and "SelectedSegmentTypes" in results:
        response["SelectedSegmentTypes"] = results["SelectedSegmentTypes"]
    if job.operation in _PER_FRAME:
        version = _PER_FRAME[job.operation][3]
        if version in results:
            response[version] = results[version]
    if job.operation in _ECHOES_REQUEST:
        response["GetRequestMetadata"] = {
            "SortBy": request.get("SortBy", "TIMESTAMP"),
            "AggregateBy": request.get("AggregateBy", "TIMESTAMPS")}
    return response


def _get(operation_name: str) -> Callable[[dict[str, Any], RequestContext], dict[str, Any]]:
    def get(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        job = job_runner().store.get(ctx.account_id, request["JobId"], operation_name)
        return job_response(job, request)

    return get


for _start_name in RESULT_MEMBERS:
    operation(_start_name)(_start(_start_name))
    operation(_start_name.replace("Start", "Get", 1))(_get(_start_name))


serve_jobs(execute, notify)
