"""StartMediaAnalysisJob / GetMediaAnalysisJob / ListMediaAnalysisJobs through boto3: bulk
DetectModerationLabels over a JSON Lines manifest in the server's S3 endpoint, results in S3."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from oversight.operations.media_analysis import MAX_MANIFEST_BYTES
from tests.api_server import OTHER_TENANT_BUCKET, ApiServer
from tests.conftest import shared_path

BUCKET = "media-analysis"
PHOTOS = {"dog.jpg": "labels/darknet/data/dog.jpg",
          "face.jpg": "faces/lfw-devtrain/images/George_W_Bush/George_W_Bush_0353.jpg"}


def _s3(server: ApiServer) -> Any:
    return boto3.client("s3", endpoint_url=server.s3_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _finished(rekognition: Any, manifest: str, **request: Any) -> dict[str, Any]:
    """Run a job over `manifest` (a key of BUCKET) to its end: GetMediaAnalysisJob's answer."""
    job_id = rekognition.start_media_analysis_job(
        OperationsConfig={"DetectModerationLabels": {"MinConfidence": 0}},
        Input={"S3Object": {"Bucket": BUCKET, "Name": manifest}},
        OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "out"}, **request)["JobId"]
    deadline = time.monotonic() + 180
    while (job := rekognition.get_media_analysis_job(JobId=job_id))["Status"] == "IN_PROGRESS":
        assert time.monotonic() < deadline, "the job is stuck IN_PROGRESS"
        time.sleep(0.5)
    return dict(job)


def _results(s3: Any, job: dict[str, Any]) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=BUCKET, Key=job["Results"]["S3Object"]["Name"])["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def test_a_manifest_is_moderated_image_by_image_into_s3(api_server: ApiServer,
                                                        rekognition: Any) -> None:
    s3 = _s3(api_server)
    s3.create_bucket(Bucket=BUCKET)
    for name, relative in PHOTOS.items():
        s3.put_object(Bucket=BUCKET, Key=f"in/{name}", Body=shared_path(relative).read_bytes())
    manifest = [json.dumps({"source-ref": f"s3://{BUCKET}/in/{name}"}) for name in PHOTOS]
    manifest += [json.dumps({"source-ref": f"s3://{BUCKET}/in/absent.jpg"}), "not json"]
    s3.put_object(Bucket=BUCKET, Key="in/manifest.jsonl", Body="\n".join(manifest).encode())
    job = _finished(rekognition, "in/manifest.jsonl", JobName="nightly")
    job_id = job["JobId"]
    assert job["Status"] == "SUCCEEDED", job.get("FailureDetails")
    assert job["JobName"] == "nightly" and job["CompletionTimestamp"] >= job["CreationTimestamp"]
    results = job["Results"]["S3Object"]
    assert results == {"Bucket": BUCKET, "Name": f"out/{job_id}/results/manifest.jsonl"}
    lines = _results(s3, job)
    by_name = {line["source-ref"].rsplit("/", 1)[-1]: line for line in lines}
    for name, relative in PHOTOS.items():  # the same answer as DetectModerationLabels alone
        alone = rekognition.detect_moderation_labels(
            Image={"Bytes": shared_path(relative).read_bytes()}, MinConfidence=0)
        assert (by_name[name]["detect-moderation-labels"]["ModerationLabels"]
                == alone["ModerationLabels"])
    assert by_name["absent.jpg"]["error"]["Code"] == "InvalidS3ObjectException"
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=job["ManifestSummary"]["S3Object"][
        "Name"])["Body"].read())
    assert summary["statistics"] == {"total-json-lines": 4, "valid-json-lines": 3,
                                     "invalid-json-lines": 1}
    listed = rekognition.list_media_analysis_jobs()["MediaAnalysisJobs"]
    assert job_id in {j["JobId"] for j in listed}
    with pytest.raises(rekognition.exceptions.InvalidS3ObjectException):
        rekognition.start_media_analysis_job(
            OperationsConfig={"DetectModerationLabels": {}},
            Input={"S3Object": {"Bucket": BUCKET, "Name": "in/none.jsonl"}},
            OutputConfig={"S3Bucket": BUCKET})


def test_a_manifest_line_cannot_read_another_tenants_bucket(api_server: ApiServer,
                                                           rekognition: Any) -> None:
    """Each image is a governed DetectModerationLabels of the job's starter: a line naming
    another account's bucket is refused like a request naming it would be (before, the job read
    the image and wrote its moderation labels, and told present from absent objects)."""
    s3 = _s3(api_server)
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=OTHER_TENANT_BUCKET)
    s3.put_object(Bucket=OTHER_TENANT_BUCKET, Key="private/face.jpg",
                  Body=shared_path(PHOTOS["face.jpg"]).read_bytes())
    manifest = [json.dumps({"source-ref": f"s3://{OTHER_TENANT_BUCKET}/private/{name}"})
                for name in ("face.jpg", "absent.jpg")]
    s3.put_object(Bucket=BUCKET, Key="in/foreign.jsonl", Body="\n".join(manifest).encode())
    job = _finished(rekognition, "in/foreign.jsonl")
    assert job["Status"] == "SUCCEEDED", job.get("FailureDetails")
    lines = _results(s3, job)
    assert [line["error"]["Code"] for line in lines] == ["AccessDeniedException"] * 2
    assert "does not belong to account" in lines[0]["error"]["Message"]


def test_malformed_and_oversized_manifests(api_server: ApiServer, rekognition: Any) -> None:
    """A line nested 100,000 deep is one invalid line, not a failed job; an empty manifest and
    one over the size limit are refused at start (InvalidManifestException) before any of it is
    read into memory."""
    s3 = _s3(api_server)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/dog.jpg",
                  Body=shared_path(PHOTOS["dog.jpg"]).read_bytes())
    lines = [json.dumps({"source-ref": f"s3://{BUCKET}/in/dog.jpg"}), "[" * 100_000,
             json.dumps(["not", "an object"]), json.dumps({"source-ref": 5})]
    s3.put_object(Bucket=BUCKET, Key="in/odd.jsonl", Body="\n".join(lines).encode())
    job = _finished(rekognition, "in/odd.jsonl")
    assert job["Status"] == "SUCCEEDED", job.get("FailureDetails")
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=job["ManifestSummary"]["S3Object"][
        "Name"])["Body"].read())
    assert summary["statistics"] == {"total-json-lines": 4, "valid-json-lines": 1,
                                     "invalid-json-lines": 3}
    s3.put_object(Bucket=BUCKET, Key="in/empty.jsonl", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="in/huge.jsonl", Body=b" " * (MAX_MANIFEST_BYTES + 1))
    for name in ("in/empty.jsonl", "in/huge.jsonl"):
        with pytest.raises(rekognition.exceptions.InvalidManifestException):
            _finished(rekognition, name)
