"""`oversight video faces|search|labels|text|moderation|segments FILE` and `oversight stream ...`.

Video commands run Rekognition's Start*/Get* operations in-process on a local file, through the
governance gate as the local operator, show progress on stderr and print the Get* response as
JSON (all pages). `oversight stream start` runs a face-search stream processor in the
foreground and prints each match event as a JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from tqdm import tqdm

from .. import operations
from ..config import settings
from ..operations.context import RequestContext
from ..rekognition import DEFAULT_MATCH_THRESHOLD
from .output import print_json, run_reporting_errors

video_app = typer.Typer(help="Analyse a local video file as Rekognition Video's Start*/Get*.")
stream_app = typer.Typer(help="Live face search on RTSP, HTTP (MJPEG/HLS) or a file in real "
                         "time (stream processors).")

_ROLE = "arn:aws:iam::000000000000:role/oversight-local"


def _run_job(start: str, request: dict[str, Any], video: Path) -> dict[str, Any]:
    """Start a job on a local file, wait for it with a progress bar, return the full Get*."""
    from ..governance.gate import governed
    from ..operations.video import submit_job
    from ..video.jobs import IN_PROGRESS
    from ..video.runtime import job_runner

    ctx = RequestContext.local()
    get = start.replace("Start", "Get", 1)

    def start_job() -> dict[str, Any]:
        job = submit_job(start, request, {"Path": str(video.resolve())}, ctx)
        return {"JobId": job.job_id}

    job_id = governed(ctx, start, request, start_job)["JobId"]
    store = job_runner().store
    with tqdm(total=100, desc=video.name, unit="%", file=sys.stderr) as bar:
        while (job := store.get(ctx.account_id, job_id)).status == IN_PROGRESS:
            bar.update(job.progress - bar.n)
            time.sleep(0.3)
        bar.update(100 - bar.n)
    response: dict[str, Any] = {}
    page_request: dict[str, Any] = {"JobId": job_id}
    while True:
        page = governed(ctx, get, page_request,
                        lambda r=page_request: operations.call(get, r, ctx))
        for key, value in page.items():
            if isinstance(value, list) and isinstance(response.get(key), list):
                response[key].extend(value)
            else:
                response[key] = value
        if "NextToken" not in page:
            response.pop("NextToken", None)
            return response
        page_request = {"JobId": job_id, "NextToken": page["NextToken"]}


def _video(start: str, file: Path, **members: Any) -> None:
    request = {"Video": {}, **{k: v for k, v in members.items() if v is not None}}
    print_json(run_reporting_errors(lambda: _run_job(start, request, file)))


_FILE = typer.Argument(..., exists=True, dir_okay=False, help="Video file (MP4, MOV, ...)")


@video_app.command("faces")
def faces(file: Path = _FILE, attributes: str = typer.Option("DEFAULT", help="DEFAULT or ALL")
          ) -> None:
    """Faces in every sampled frame (StartFaceDetection + GetFaceDetection)."""
    _video("StartFaceDetection", file, FaceAttributes=attributes)


@video_app.command("search")
def search(file: Path = _FILE,
           collection_id: str = typer.Option(..., "--collection-id", "-c"),
           threshold: float = typer.Option(DEFAULT_MATCH_THRESHOLD, min=0.0, max=100.0)) -> None:
    """Tracked people whose face matches the collection (StartFaceSearch + GetFaceSearch)."""
    _video("StartFaceSearch", file, CollectionId=collection_id, FaceMatchThreshold=threshold)


@video_app.command("labels")
def labels(file: Path = _FILE, min_confidence: float = typer.Option(50.0, min=0.0, max=100.0)
           ) -> None:
    """Labels per sampled frame (StartLabelDetection + GetLabelDetection)."""
    _video("StartLabelDetection", file, MinConfidence=min_confidence)


@video_app.command("text")
def text(file: Path = _FILE) -> None:
    """Text per sampled frame (StartTextDetection + GetTextDetection)."""
    _video("StartTextDetection", file)


@video_app.command("moderation")
def moderation(file: Path = _FILE,
               min_confidence: float = typer.Option(50.0, min=0.0, max=100.0)) -> None:
    """Moderation labels per sampled frame (StartContentModeration + GetContentModeration)."""
    _video("StartContentModeration", file, MinConfidence=min_confidence)


@video_app.command("segments")
def segments(file: Path = _FILE) -> None:
    """Shots and black frames (StartSegmentDetection + GetSegmentDetection)."""
    _video("StartSegmentDetection", file, SegmentTypes=["SHOT", "TECHNICAL_CUE"])


@video_app.command("cancel")
def cancel(job_id: str) -> None:
    """Cancel a job: its worker stops at the next frame and the job ends FAILED."""
    from ..video.runtime import job_runner

    def run() -> dict[str, Any]:
        job = job_runner().store.request_cancel(RequestContext.local().account_id, job_id)
        return {"JobId": job.job_id, "JobStatus": job.status}
    print_json(run_reporting_errors(run))


# -- streams ---------------------------------------------------------------------------------
def _stream_arns(name: str) -> tuple[str, str]:
    account = RequestContext.local().account_id
    region = settings().region
    return (f"arn:aws:kinesisvideo:{region}:{account}:stream/{name}/local",
            f"arn:aws:kinesis:{region}:{account}:stream/{name}-events")


def _governed(name: str, request: dict[str, Any]) -> dict[str, Any]:
    from ..governance.gate import governed

    ctx = RequestContext.local()
    return run_reporting_errors(
        lambda: governed(ctx, name, request, lambda: operations.call(name, request, ctx)))


@stream_app.command("start")
def stream_start(
    name: str = typer.Option(..., help="Stream processor name"),
    source: str = typer.Option(..., help="rtsp://, http(s):// (MJPEG/HLS) or a video file"),
    collection_id: str = typer.Option(..., "--collection-id", "-c"),
    threshold: float = typer.Option(
        DEFAULT_MATCH_THRESHOLD, min=DEFAULT_MATCH_THRESHOLD, max=100.0
    ),
    webhook: str = typer.Option(None, help="POST each match event here too"),
    seconds: float = typer.Option(None, help="Stop after this many seconds"),
) -> None:
    """Create (or reuse) a stream processor and run it here until the source ends or Ctrl-C."""
    from ..video.endpoints import register_endpoint
    from ..video.runtime import events_path, running

    video_arn, data_arn = _stream_arns(name)
    register_endpoint(video_arn, source)
    request: dict[str, Any] = {
        "Name": name, "RoleArn": _ROLE,
        "Input": {"KinesisVideoStream": {"Arn": video_arn}},
        "Settings": {"FaceSearch": {"CollectionId": collection_id,
                                    "FaceMatchThreshold": threshold}},
    }
    if webhook:
        register_endpoint(data_arn, webhook)
        request["Output"] = {"KinesisDataStream": {"Arn": data_arn}}
    account = RequestContext.local().account_id
    existing = [p["Name"] for p in _governed("ListStreamProcessors", {})["StreamProcessors"]]
    if name not in existing:
        _governed("CreateStreamProcessor", request)
    start = {"Name": name}
    if seconds:
        start["StopSelector"] = {"MaxDurationInSeconds": max(1, int(seconds))}
    _governed("StartStreamProcessor", start)
    events = events_path(account, name)
    offset = events.stat().st_size if events.exists() else 0
    try:
        while (run := running(account, name)) is not None or offset < _size(events):
            offset = _print_new_events(events, offset)
            if run is not None:
                sys.stderr.write(f"\r{run.frames_analysed} frames analysed, "
                                 f"{run.events} match events")
            time.sleep(0.3)
    except KeyboardInterrupt:
        _governed("StopStreamProcessor", {"Name": name})
    sys.stderr.write("\n")
    print_json(_governed("DescribeStreamProcessor", {"Name": name}))


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _print_new_events(path: Path, offset: int) -> int:
    if not path.exists():
        return offset
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    complete = data[: data.rfind(b"\n") + 1]
    for line in complete.splitlines():
        sys.stdout.write(json.dumps(json.loads(line)) + "\n")
    sys.stdout.flush()
    return offset + len(complete)


@stream_app.command("list")
def stream_list() -> None:
    """Stream processors and their status (ListStreamProcessors)."""
    print_json(_governed("ListStreamProcessors", {}))


@stream_app.command("describe")
def stream_describe(name: str) -> None:
    """One stream processor (DescribeStreamProcessor)."""
    print_json(_governed("DescribeStreamProcessor", {"Name": name}))


@stream_app.command("delete")
def stream_delete(name: str) -> None:
    """Delete a stream processor (DeleteStreamProcessor)."""
    print_json(_governed("DeleteStreamProcessor", {"Name": name}))


def register(app: typer.Typer) -> None:
    app.add_typer(video_app, name="video")
    app.add_typer(stream_app, name="stream")
