"""Policies, purpose and audit through the real server, with boto3 and the AWS CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from oversight.api.keys import KeyStore
from oversight.governance.policy import Policy, put_policy
from oversight.governance.purpose import attach_purpose
from tests.api_server import BIN, REGION, ApiServer, client, server_audit_log
from tests.conftest import shared_path

FACE = "faces/face-api.js/examples/images/bbt2.jpg"
UNKNOWN_FACE = "11111111-1111-1111-1111-111111111111"


def _new_key(server: ApiServer, policy: dict[str, Any] | None = None) -> tuple[Any, str]:
    """A boto3 client signing with a fresh key in a fresh account, under `policy`."""
    new = KeyStore.default().create(description="governance test")
    key_id = new.key.access_key_id
    if policy is not None:
        put_policy(Policy(key_id, **policy))
    return client(server, key_id, new.secret), key_id


def _denied(call: Any, code: str = "AccessDeniedException") -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    return caught.value.response["Error"]["Message"]


def _last_record(server: ApiServer) -> dict[str, Any]:
    return list(server_audit_log(server).records())[-1]


def test_allowed_operations(server_store: ApiServer) -> None:
    rekognition, key_id = _new_key(server_store, {"allowed_operations": ["ListCollections"]})
    rekognition.list_collections()
    message = _denied(lambda: rekognition.create_collection(CollectionId="not-allowed"))
    assert "does not allow CreateCollection" in message and key_id in message
    record = _last_record(server_store)
    assert (record["key"], record["refused_by"]) == (key_id, "operation")


def test_allowed_collections(server_store: ApiServer) -> None:
    rekognition, _ = _new_key(server_store, {"allowed_collections": ["gov-mine"]})
    rekognition.create_collection(CollectionId="gov-mine")
    rekognition.describe_collection(CollectionId="gov-mine")
    assert "'gov-other'" in _denied(lambda: rekognition.create_collection(CollectionId="gov-other"))


def test_minimum_threshold_refused_not_raised(server_store: ApiServer) -> None:
    rekognition, _ = _new_key(server_store, {"min_match_threshold": 99})
    rekognition.create_collection(CollectionId="gov-threshold")
    search = {"CollectionId": "gov-threshold", "FaceId": UNKNOWN_FACE}
    message = _denied(lambda: rekognition.search_faces(**search, FaceMatchThreshold=98))
    assert "FaceMatchThreshold >= 99" in message
    assert "default 80" in _denied(lambda: rekognition.search_faces(**search))
    # At the minimum the request is admitted: the face simply is not there.
    _denied(lambda: rekognition.search_faces(**search, FaceMatchThreshold=99),
            "InvalidParameterException")


def test_max_faces(server_store: ApiServer) -> None:
    rekognition, _ = _new_key(server_store, {"max_faces": 5})
    rekognition.create_collection(CollectionId="gov-max")
    search = {"CollectionId": "gov-max", "FaceId": UNKNOWN_FACE}
    assert "at most 5" in _denied(lambda: rekognition.search_faces(**search, MaxFaces=6))
    _denied(lambda: rekognition.search_faces(**search, MaxFaces=5), "InvalidParameterException")


def test_rate_limit(server_store: ApiServer) -> None:
    # One request a minute: the second is throttled however slow this machine is.
    rekognition, _ = _new_key(server_store, {"rate_limit_per_minute": 1})
    rekognition.list_collections()
    assert "1 requests per minute" in _denied(rekognition.list_collections, "ThrottlingException")


def test_purpose_required_and_recorded(server_store: ApiServer) -> None:
    rekognition, key_id = _new_key(server_store, {"require_purpose": True})
    assert "X-Oversight-Purpose" in _denied(rekognition.list_collections)
    attach_purpose(rekognition, "case 2026-17")
    image = shared_path(FACE).read_bytes()
    response = rekognition.detect_faces(Image={"Bytes": image})
    record = _last_record(server_store)
    assert record["operation"] == "DetectFaces" and record["purpose"] == "case 2026-17"
    assert record["key"] == key_id and record["outcome"] == "ok"
    assert record["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert record["counts"]["FaceDetails"] == len(response["FaceDetails"]) > 0
    text = b"".join(server_audit_log(server_store).lines()).decode()
    assert "BoundingBox" not in text and "Landmarks" not in text


@pytest.mark.slow
def test_purpose_from_the_aws_cli_plugin(server_store: ApiServer, tmp_path: Path) -> None:
    new = KeyStore.default().create(description="aws cli purpose")
    put_policy(Policy(new.key.access_key_id, require_purpose=True))
    config = tmp_path / "aws-config"
    config.write_text("[plugins]\noversight = oversight.governance.purpose\n")
    env = {
        **os.environ, "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ACCESS_KEY_ID": new.key.access_key_id, "AWS_SECRET_ACCESS_KEY": new.secret,
        "AWS_DEFAULT_REGION": REGION, "AWS_MAX_ATTEMPTS": "1",
    }
    command = [str(BIN / "aws"), "rekognition", "list-collections",
               "--endpoint-url", server_store.url]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "AccessDeniedException" in refused.stderr
    env["OVERSIGHT_PURPOSE"] = "audit 42"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_eight_concurrent_clients_lose_no_audit_record(server_store: ApiServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rekognition, key_id = _new_key(server_store)
    per_client = 10

    def work(_: int) -> list[str]:
        return [rekognition.list_collections()["ResponseMetadata"]["RequestId"]
                for _ in range(per_client)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        request_ids = {rid for ids in pool.map(work, range(8)) for rid in ids}
    log = server_audit_log(server_store)
    recorded = {r["request_id"] for r in log.records() if r.get("key") == key_id}
    assert len(request_ids) == 8 * per_client and recorded == request_ids
    assert log.verify().ok


def test_redact_faces_extension_over_http(server_store: ApiServer) -> None:
    import base64
    import json

    from oversight.analysis import face_analyzer
    from oversight.images import decode_image
    from tests.api_server import signed_post

    image = shared_path(FACE).read_bytes()
    body = json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()},
                       "Method": "PIXELATE"}).encode()
    answer = signed_post(server_store, body, target="RekognitionService.RedactFaces",
                         headers={"X-Oversight-Purpose": "press photo"})
    assert answer.status_code == 200, answer.text
    response = answer.json()
    redacted = decode_image(base64.b64decode(response["Image"]["Bytes"]))
    assert len(response["RedactedFaces"]) >= 2 and face_analyzer().detect(redacted) == []
    record = _last_record(server_store)
    assert (record["operation"], record["purpose"]) == ("RedactFaces", "press photo")
    assert record["counts"]["RedactedFaces"] == len(response["RedactedFaces"])
    bad = json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()},
                      "Method": "SMUDGE"}).encode()
    refused = signed_post(server_store, bad, target="RekognitionService.RedactFaces")
    assert refused.status_code == 400 and "ValidationException" in refused.text


def test_live_stream_search(server_store: ApiServer) -> None:
    definition = {
        "Name": "gov-lobby",
        "Input": {"KinesisVideoStream": {
            "Arn": "arn:aws:kinesisvideo:us-east-1:000000000000:stream/lobby/1"}},
        "Output": {"KinesisDataStream": {
            "Arn": "arn:aws:kinesis:us-east-1:000000000000:stream/matches"}},
        "RoleArn": "arn:aws:iam::000000000000:role/oversight",
        "Settings": {"FaceSearch": {"CollectionId": "gov-staff", "FaceMatchThreshold": 90}},
    }
    refused, _ = _new_key(server_store, {"allow_stream_search": False})
    message = _denied(lambda: refused.create_stream_processor(**definition))
    assert "live streams" in message
    allowed, _ = _new_key(server_store, {"allow_stream_search": True})
    # Admitted by the policy; refused since this server maps no camera ARN to a URL.
    assert "endpoint_map" in _denied(lambda: allowed.create_stream_processor(**definition))
