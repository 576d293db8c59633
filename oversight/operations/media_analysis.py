"""StartMediaAnalysisJob, GetMediaAnalysisJob, ListMediaAnalysisJobs: DetectModerationLabels over
every image a JSON Lines manifest names, results written back to S3, as Rekognition does.

The manifest (`Input.S3Object`) has one `{"source-ref": "s3://bucket/key"}` per line. Each image
runs the DetectModerationLabels operation itself, so bulk and single answers cannot drift apart,
through the governed call as a request of the key that started the job (with its purpose): a
line reaches only what that key could, and a refused line is audited.
The job writes `<S3KeyPrefix>/<JobId>/results/<manifest name>` (one line per valid manifest line:
the line, plus `detect-moderation-labels` or `error`) and `<S3KeyPrefix>/<JobId>/
manifest-summary.json` (line counts and the errors). Jobs share the stored-video job store and
worker pool (video/jobs.py), so they survive restarts the same way.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..analysis.moderation import MODERATION_MODEL_VERSION
from ..api.calls import governed_call
from ..collections.pagination import decode_token, encode_token
from ..errors import InvalidManifestException, InvalidParameterException, RekognitionError
from ..s3 import object_size, open_object, put_object
from ..video.jobs import FAILED, IN_PROGRESS, Job
from ..video.runtime import job_runner
from ..video.worker import Progress
from . import operation
from .context import RequestContext
from .video import OTHER_JOBS, submit_job

START = "StartMediaAnalysisJob"
# Rekognition's limits: manifest lines per job, and a page of ListMediaAnalysisJobs.
MAX_MANIFEST_LINES = 10_000
# Oversight's bound on the manifest read into memory: 10,000 lines naming keys of up to 1,024
# characters take about 11 MB.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
DEFAULT_PAGE = 100
_SOURCE_REF = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)")


def _output_key(request: dict[str, Any], job_id: str, *parts: str) -> str:
    prefix = (request["OutputConfig"].get("S3KeyPrefix") or "").strip("/")
    return "/".join(p for p in (prefix, job_id, *parts) if p)


def _analyse_line(line: str, min_confidence: float, ctx: RequestContext) -> dict[str, Any]:
    """One manifest line with its DetectModerationLabels answer or the error it met."""
    entry = json.loads(line)
    if not isinstance(entry, dict):
        raise ValueError("a manifest line must be a JSON object")
    where = _SOURCE_REF.fullmatch(str(entry.get("source-ref", "")))
    if where is None:
        raise ValueError('a manifest line needs "source-ref": "s3://bucket/key"')
    request = {"Image": {"S3Object": {"Bucket": where["bucket"], "Name": where["key"]}},
               "MinConfidence": min_confidence}
    try:
        # Judged (and a refusal audited) as the starter's own request would be: a line cannot
        # reach a bucket or image its key could not. The job's start spent the rate limit.
        answer = governed_call("DetectModerationLabels", request, ctx, metered=False)
    except RekognitionError as error:
        return {**entry, "error": {"Code": error.code, "Message": error.message}}
    return {**entry, "detect-moderation-labels": answer}


def run_media_analysis(job: Job, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    """Analyse every line of the job's manifest; write the results and the summary to S3."""
    request = job.request
    ctx = RequestContext(account_id=job.account_id, access_key_id=job.access_key_id,
                         purpose=job.purpose, request_id=job.job_id)
    min_confidence = (request["OperationsConfig"].get("DetectModerationLabels") or {}).get(
        "MinConfidence", 50.0)
    manifest = request["Input"]["S3Object"]
    with open_object(manifest, "Input") as (_, body):
        # Read once more than allowed: a manifest replaced by a larger one since the start
        # is refused by its size, never read whole.
        content = body.read(MAX_MANIFEST_BYTES + 1)
    _check_manifest_size(len(content))
    lines = [line for line in content.decode("utf-8", "replace").splitlines() if line.strip()]
    if len(lines) > MAX_MANIFEST_LINES:
        raise InvalidManifestException(
            f"The manifest has {len(lines)} lines; at most {MAX_MANIFEST_LINES} are accepted")
    results, errors = [], []
    for number, line in enumerate(lines, start=1):
        try:
            results.append(_analyse_line(line, min_confidence, ctx))
        # JSON errors, and nesting too deep to decode: the line is invalid, not the job.
        except (ValueError, RecursionError) as error:
            errors.append({"line": number, "message": str(error)})
        progress(100.0 * number / len(lines))
    bucket = request["OutputConfig"]["S3Bucket"]
    results_key = _output_key(request, job.job_id, "results",
                              manifest["Name"].rsplit("/", 1)[-1])
    summary_key = _output_key(request, job.job_id, "manifest-summary.json")
    put_object(bucket, results_key,
               "".join(json.dumps(r) + "\n" for r in results).encode(), "application/jsonl")
    summary = {"version": "1.0", "statistics": {
        "total-json-lines": len(lines), "valid-json-lines": len(results),
        "invalid-json-lines": len(errors)}, "errors": errors}
    put_object(bucket, summary_key, json.dumps(summary).encode(), "application/json")
    return {}, {
        "Results": {"S3Object": {"Bucket": bucket, "Name": results_key},
                    "ModelVersions": {"Moderation": MODERATION_MODEL_VERSION}},
        "ManifestSummary": {"S3Object": {"Bucket": bucket, "Name": summary_key}},
    }


OTHER_JOBS[START] = run_media_analysis


@operation(START)
def start_media_analysis_job(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    moderation = request["OperationsConfig"].get("DetectModerationLabels")
    if moderation is None:
        raise InvalidParameterException("OperationsConfig.DetectModerationLabels is required")
    if moderation.get("ProjectVersion"):
        raise InvalidParameterException(
            "Custom moderation adapters (ProjectVersion) are not supported by Oversight.")
    if request.get("KmsKeyId"):
        raise InvalidParameterException("KmsKeyId is not supported: Oversight writes results "
                                        "with the S3 endpoint's own encryption settings")
    # A missing, empty or oversized manifest fails at start.
    _check_manifest_size(object_size(request["Input"]["S3Object"], "Input"))
    job = submit_job(START, request, {"S3Object": request["Input"]["S3Object"]}, ctx)
    return {"JobId": job.job_id}


def _check_manifest_size(size: int) -> None:
    if size == 0:
        raise InvalidManifestException("The manifest is empty")
    if size > MAX_MANIFEST_BYTES:
        raise InvalidManifestException(
            f"The manifest is larger than {MAX_MANIFEST_BYTES} bytes, the most accepted")


def _description(job: Job) -> dict[str, Any]:
    """Rekognition's MediaAnalysisJobDescription of a job."""
    request = job.request
    described: dict[str, Any] = {
        "JobId": job.job_id,
        "OperationsConfig": request["OperationsConfig"],
        "Status": job.status,
        "CreationTimestamp": job.created_at,
        "Input": request["Input"],
        "OutputConfig": request["OutputConfig"],
    }
    if request.get("JobName"):
        described["JobName"] = request["JobName"]
    if job.finished_at is not None:
        described["CompletionTimestamp"] = job.finished_at
    if job.status == FAILED:
        message = job.status_message or ""
        code = ("INVALID_MANIFEST" if "manifest" in message
                else "INVALID_S3_OBJECT" if "s3://" in message else "INTERNAL_ERROR")
        described["FailureDetails"] = {"Code": code, "Message": message}
    elif job.status != IN_PROGRESS:
        described.update(job.results or {})
    return described


@operation("GetMediaAnalysisJob")
def get_media_analysis_job(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return _description(job_runner().store.get(ctx.account_id, request["JobId"], START))


@operation("ListMediaAnalysisJobs")
def list_media_analysis_jobs(request: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    jobs = job_runner().store.jobs_of(ctx.account_id, START)
    scope = ("media-analysis-jobs", ctx.account_id)
    start = decode_token(scope, request.get("NextToken"))
    size = request.get("MaxResults") or DEFAULT_PAGE
    response: dict[str, Any] = {
        "MediaAnalysisJobs": [_description(job) for job in jobs[start:start + size]]}
    if start + size < len(jobs):
        response["NextToken"] = encode_token(scope, start + size)
    return response
