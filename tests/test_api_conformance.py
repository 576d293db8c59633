"""Every served operation, answered in Rekognition's output shapes and parsed by a second SDK.

tests/conformance/steps.json calls each operation the server serves, in an order that makes every
call valid. It runs twice against the session server:
- raw signed HTTP, each answer checked against botocore's output shape (types, required
  members, enums, patterns, ranges, lengths; api.validation.response_violations), since botocore
  itself parses leniently;
- the AWS SDK for JavaScript v3 (`@aws-sdk/client-rekognition`, installed by `make install` under
  .venv/npm), whose serializer, signer and parsers are not botocore's (tests/conformance/run.cjs).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3
import pytest

from oversight.api.service_model import operation_model
from oversight.api.validation import response_violations
from oversight.operations import registry
from tests.api_server import CONFORMANCE_STEPS, ApiServer, signed_post
from tests.conftest import IN_CI, shared_path
from tests.video_helpers import upload

SPEC = json.loads(CONFORMANCE_STEPS.read_text())
NPM_MODULES = Path(sys.executable).parent.parent / "npm" / "node_modules"
JS_RUNNER = CONFORMANCE_STEPS.with_name("run.cjs")
JOB_SECONDS = 180


@pytest.fixture(scope="module")
def conformance_server(api_server: ApiServer) -> ApiServer:
    """The session server with the suite's S3 objects uploaded (skips without shared data)."""
    shared_path(SPEC["endpoint_map"]["camera"][1])
    bucket = SPEC["s3"]["bucket"]
    for name, source in SPEC["s3"]["objects"].items():
        if isinstance(source, str):
            upload(api_server.s3_url, bucket, name, shared_path(source))
        else:
            boto3.client("s3", endpoint_url=api_server.s3_url, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing"
                         ).put_object(Bucket=bucket, Key=name, Body=source["text"].encode())
    return api_server


def _fill(value: Any, run: str, saved: dict[str, str]) -> Any:
    """A step's input for raw JSON: placeholders filled, {"file": KEY} as base64."""
    if isinstance(value, str):
        return value.format(run=run, **saved)
    if isinstance(value, list):
        return [_fill(item, run, saved) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"file"}:
        return base64.b64encode(shared_path(SPEC["files"][value["file"]]).read_bytes()).decode()
    return {key: _fill(item, run, saved) for key, item in value.items()}


def _pick(response: dict[str, Any], dotted: str) -> str:
    value: Any = response
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return str(value)


def _call(server: ApiServer, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    answer = signed_post(server, json.dumps(request).encode(),
                         target=f"RekognitionService.{operation}")
    assert answer.status_code == 200, f"{operation}: {answer.status_code} {answer.text[:500]}"
    parsed: dict[str, Any] = answer.json()
    return parsed


# Review cases exist only under a review policy (another key, another account): their answers are
# shape-checked in tests/test_review.py.
SHAPE_CHECKED_ELSEWHERE = {"GetReviewCase", "DecideReviewCase"}


def test_spec_calls_every_served_operation() -> None:
    assert {step["operation"] for step in SPEC["steps"]} == set(registry()) - set(
        SHAPE_CHECKED_ELSEWHERE)


def test_every_answer_follows_the_output_shape(conformance_server: ApiServer) -> None:
    # Only DetectFaces and CompareFaces were checked before (issue 13, "every response checked").
    saved: dict[str, str] = {}
    violations: dict[str, list[str]] = defaultdict(list)
    for step in SPEC["steps"]:
        operation, request = step["operation"], _fill(step["input"], "py", saved)
        response = _call(conformance_server, operation, request)
        deadline, status = time.monotonic() + JOB_SECONDS, step.get("wait")
        while status and response[status] == "IN_PROGRESS":
            assert time.monotonic() < deadline, f"{operation}: job still IN_PROGRESS"
            time.sleep(0.5)
            response = _call(conformance_server, operation, request)
        assert not status or response[status] == "SUCCEEDED", response
        violations[operation] += response_violations(operation_model(operation), response)
        saved.update({name: _pick(response, path) for name, path in step.get("save", {}).items()})
    assert {op: found for op, found in violations.items() if found} == {}


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (NPM_MODULES / "@aws-sdk" / "client-rekognition").is_dir():
        if IN_CI:
            pytest.fail("node or @aws-sdk/client-rekognition is missing (`make install`)")
        pytest.skip("node or @aws-sdk/client-rekognition (npm, under .venv/npm) is missing")
    return node


def test_the_javascript_sdk_parses_every_answer(conformance_server: ApiServer,
                                                shared_data: Path) -> None:
    done = subprocess.run(
        [_node(), str(JS_RUNNER), str(CONFORMANCE_STEPS)],
        env={**os.environ, "NODE_PATH": str(NPM_MODULES), "OVERSIGHT_URL": conformance_server.url,
             "OVERSIGHT_SHARED_DATA": str(shared_data), "OVERSIGHT_JOB_SECONDS": str(JOB_SECONDS),
             "AWS_ACCESS_KEY_ID": conformance_server.access_key_id,
             "AWS_SECRET_ACCESS_KEY": conformance_server.secret_access_key},
        capture_output=True, text=True, timeout=900,
    )
    results = json.loads(done.stdout or "[]")
    failed = [r for r in results if r["status"] == "failed"]
    assert done.returncode == 0 and not failed, failed or done.stderr[-2000:]
    called = {r["operation"] for r in results if r["status"] == "ok"}
    extensions = {s["operation"] for s in SPEC["steps"] if s.get("extension")}
    assert called == set(registry()) - extensions - SHAPE_CHECKED_ELSEWHERE
