"""The wire protocol end to end: the real server, driven by boto3, the AWS CLI and raw HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.auth
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.api_server import (
    ApiServer,
    aws,
    client,
    create_key,
    oversight_cli,
    running_server,
    signed_post,
)

SIX_MB = b"\xff" * (6 * 1024 * 1024)


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def rejected_by_validation(rekognition: Any) -> tuple[str, int, str]:
    """Send a request that passes authentication and fails validation (a bad enum)."""
    return error_of(
        lambda: rekognition.detect_faces(Image={"Bytes": b"x"}, Attributes=["EVERYTHING"])
    )


def new_key(server: ApiServer, *args: str) -> tuple[str, str]:
    done = oversight_cli(server, "keys", "create", *args)
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    return created["AccessKeyId"], created["SecretAccessKey"]


# --- authentication -------------------------------------------------------------------------


def test_unsigned_request_is_rejected(api_server: ApiServer) -> None:
    response = httpx.post(
        f"{api_server.url}/",
        content=b"{}",
        headers={"X-Amz-Target": "RekognitionService.ListCollections"},
    )
    assert response.status_code == 403
    assert response.json()["__type"] == "MissingAuthenticationTokenException"
    assert response.headers["x-amzn-RequestId"]


def test_wrong_secret_is_an_invalid_signature(api_server: ApiServer) -> None:
    wrong = client(api_server, api_server.access_key_id, "x" * 40)
    code, status, _ = error_of(lambda: wrong.list_collections())
    assert (code, status) == ("InvalidSignatureException", 403)


def test_unknown_key_is_unrecognized(api_server: ApiServer) -> None:
    stranger = client(api_server, "AKIAAAAAAAAAAAAAAAAA", "x" * 40)
    code, status, _ = error_of(lambda: stranger.list_collections())
    assert (code, status) == ("UnrecognizedClientException", 403)


@pytest.mark.slow
def test_revoked_key_is_unrecognized(api_server: ApiServer) -> None:
    key_id, secret = new_key(api_server, "--new-account", "--description", "revocation test")
    assert key_id.startswith("AKIA") and len(key_id) == 20 and len(secret) == 40
    holder = client(api_server, key_id, secret)
    # Authenticated: the request gets as far as validation.
    code, _, _ = rejected_by_validation(holder)
    assert code == "ValidationException"
    done = oversight_cli(api_server, "keys", "revoke", key_id)
    assert done.returncode == 0 and json.loads(done.stdout)["Status"] == "Revoked"
    code, status, _ = rejected_by_validation(holder)
    assert (code, status) == ("UnrecognizedClientException", 403)
    listed = json.loads(oversight_cli(api_server, "keys", "list").stdout)["AccessKeys"]
    assert {k["AccessKeyId"]: k["Status"] for k in listed}[key_id] == "Revoked"
    assert all("SecretAccessKey" not in k for k in listed)
    # --new-account made a tenant of its own, apart from the local operator's.
    accounts = {k["AccessKeyId"]: k["AccountId"] for k in listed}
    assert accounts[key_id] != accounts[api_server.access_key_id] == "000000000000"


@pytest.mark.parametrize(
    ("skew", "message"),
    [(timedelta(minutes=-20), "Signature expired"), (timedelta(minutes=20), "not yet current")],
)
def test_clock_skew_over_15_minutes_is_rejected(
    api_server: ApiServer, rekognition: Any, monkeypatch: pytest.MonkeyPatch,
    skew: timedelta, message: str,
) -> None:
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda: datetime.now(UTC).replace(tzinfo=None) + skew
    )
    code, status, text = rejected_by_validation(rekognition)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message in text


def test_small_clock_skew_is_accepted(rekognition: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda: datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10),
    )
    code, _, _ = rejected_by_validation(rekognition)
    assert code == "ValidationException"


def test_body_changed_after_signing_is_rejected(api_server: ApiServer) -> None:
    response = signed_post(api_server, b'{"Image": {}}', tamper=b'{"Image": {"S3Object": {}}}')
    assert response.status_code == 403
    assert response.json()["__type"] == "InvalidSignatureException"


def test_authorization_without_signature_is_incomplete(api_server: ApiServer) -> None:
    response = httpx.post(
        f"{api_server.url}/",
        content=b"{}",
        headers={
            "X-Amz-Target": "RekognitionService.ListCollections",
            "X-Amz-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAAAAAAAAAAAAAAAAA/20260101/"
            "us-east-1/rekognition/aws4_request, SignedHeaders=host;x-amz-date",
        },
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "IncompleteSignatureException"


def test_accounts_see_only_their_own_collections(api_server: ApiServer, rekognition: Any) -> None:
    stranger = client(api_server, *create_key(api_server))
    name = f"tenant-a-{uuid.uuid4().hex[:8]}"  # the server is shared by the whole session
    rekognition.create_collection(CollectionId=name)
    assert name not in stranger.list_collections()["CollectionIds"]
    code, _, _ = error_of(lambda: stranger.describe_collection(CollectionId=name))
    assert code == "ResourceNotFoundException"
    assert name in rekognition.list_collections()["CollectionIds"]


# --- bad input --------------------------------------------------------------------------------


def test_image_over_5_mb_is_too_large(rekognition: Any) -> None:
    code, status, _ = error_of(lambda: rekognition.detect_faces(Image={"Bytes": SIX_MB}))
    assert (code, status) == ("ImageTooLargeException", 400)


def test_max_faces_out_of_range(rekognition: Any) -> None:
    code, status, message = error_of(
        lambda: rekognition.search_faces_by_image(
            CollectionId="c", Image={"Bytes": b"\xff\xd8"}, MaxFaces=5000
        )
    )
    assert (code, status) == ("ValidationException", 400)
    assert "'maxFaces'" in message and "less than or equal to 4096" in message


def test_bad_enum(rekognition: Any) -> None:
    code, _, message = error_of(
        lambda: rekognition.detect_faces(Image={"Bytes": b"\xff\xd8"}, Attributes=["EVERYTHING"])
    )
    assert code == "ValidationException"
    assert "enum value set" in message


def test_missing_required_member(api_server: ApiServer) -> None:
    # boto3 checks required members itself; switch that off to see the server's answer.
    unchecked = client(
        api_server,
        api_server.access_key_id,
        api_server.secret_access_key,
        parameter_validation=False,
    )
    code, status, message = error_of(lambda: unchecked.detect_faces())
    assert (code, status) == ("ValidationException", 400)
    assert "Value null at 'image' failed to satisfy constraint: Member must not be null" in message


def test_wrong_type_is_a_serialization_error(api_server: ApiServer) -> None:
    response = signed_post(
        api_server, b'{"CollectionId": "c", "Image": {"Bytes": "AA=="}, "MaxFaces": "ten"}',
        target="RekognitionService.SearchFacesByImage",
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"Image": NaN}', b"\xff\xfe"])
def test_malformed_json(api_server: ApiServer, body: bytes) -> None:
    response = signed_post(api_server, body)
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"


@pytest.mark.parametrize(
    "target", ["RekognitionService.DetectEverything", "OtherService.DetectFaces", ""]
)
def test_unknown_target(api_server: ApiServer, target: str) -> None:
    response = signed_post(api_server, b"{}", target=target)
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"


def test_unimplemented_operation_says_so(rekognition: Any) -> None:
    code, status, message = error_of(
        lambda: rekognition.describe_projects(ProjectNames=["p"])
    )
    assert (code, status) == ("UnsupportedOperationException", 400)
    assert "Oversight does not support DescribeProjects" in message and "docs/API.md" in message


def test_endpoint_from_the_environment(
    api_server: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", api_server.url)
    unchanged = boto3.client(
        "rekognition",
        region_name="us-east-1",
        aws_access_key_id=api_server.access_key_id,
        aws_secret_access_key=api_server.secret_access_key,
    )
    assert "CollectionIds" in unchanged.list_collections()


# --- AWS CLI ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_aws_cli_gets_modelled_errors(api_server: ApiServer, tmp_path: Any) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(SIX_MB)
    code, _, stderr = aws(api_server, "detect-faces", "--image-bytes", f"fileb://{big}")
    assert code != 0 and "ImageTooLargeException" in stderr
    code, _, stderr = aws(
        api_server, "list-collections", key=(api_server.access_key_id, "y" * 40)
    )
    assert code != 0 and "InvalidSignatureException" in stderr


# --- service endpoints -----------------------------------------------------------------------


def test_health_and_metrics(api_server: ApiServer, rekognition: Any) -> None:
    rejected_by_validation(rekognition)
    assert httpx.get(f"{api_server.url}/health").json()["status"] == "ok"
    metrics = httpx.get(f"{api_server.url}/metrics").text
    assert 'oversight_requests_total{error="ValidationException",operation="DetectFaces"' in metrics
    assert "oversight_request_seconds_bucket" in metrics


def test_access_log_is_json_lines(api_server: ApiServer, rekognition: Any) -> None:
    rejected_by_validation(rekognition)
    lines = [
        json.loads(line)
        for line in api_server.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    last = [line for line in lines if line["operation"] == "DetectFaces"][-1]
    assert last["access_key_id"] == api_server.access_key_id
    assert {"request_id", "status", "error", "duration_ms", "bytes_in"} <= set(last)


def test_other_paths_answer_json_errors(api_server: ApiServer) -> None:
    response = httpx.get(f"{api_server.url}/nowhere")
    assert response.status_code == 404
    assert response.json()["__type"] == "UnknownOperationException"


def test_request_id_header_reaches_boto3(rekognition: Any) -> None:
    with pytest.raises(ClientError) as raised:
        rekognition.detect_faces(Image={"Bytes": b"x"}, Attributes=["EVERYTHING"])
    assert raised.value.response["ResponseMetadata"]["RequestId"]


def test_config_kwargs_do_not_leak(api_server: ApiServer) -> None:
    # Sanity check of the helper: a client built with extra botocore config still authenticates.
    custom = client(
        api_server, api_server.access_key_id, api_server.secret_access_key,
        user_agent_extra="oversight-tests",
    )
    assert isinstance(custom.meta.config, Config)
    code, _, _ = rejected_by_validation(custom)
    assert code == "ValidationException"


def test_requests_and_arns_of_another_region_are_refused(api_server: ApiServer,
                                                         rekognition: Any) -> None:
    # Any SigV4 region and any ARN region were once accepted (issue 13, item 6).
    import boto3

    elsewhere = boto3.client(
        "rekognition", endpoint_url=api_server.url, region_name="eu-west-1",
        aws_access_key_id=api_server.access_key_id,
        aws_secret_access_key=api_server.secret_access_key,
        config=Config(retries={"max_attempts": 1}))
    code, status, message = error_of(lambda: elsewhere.list_collections())
    assert (code, status) == ("InvalidSignatureException", 403) and "eu-west-1" in message
    rekognition.create_collection(CollectionId="regional")
    arn = rekognition.describe_collection(CollectionId="regional")["CollectionARN"]
    assert arn.startswith("arn:aws:rekognition:us-east-1:")
    rekognition.tag_resource(ResourceArn=arn, Tags={"k": "v"})
    moved = arn.replace(":us-east-1:", ":eu-west-1:")
    code, _, _ = error_of(lambda: rekognition.list_tags_for_resource(ResourceArn=moved))
    assert code == "ResourceNotFoundException"
    rekognition.delete_collection(CollectionId="regional")


@pytest.mark.slow  # starts a server of its own
def test_models_are_loaded_at_start_unless_configured_off(tmp_path: Any) -> None:
    # The first DetectLabels took 1.2-2 s and the first CompareFaces 0.8 s (issue 13, warm start).
    import time

    (tmp_path / "cold").mkdir()
    (tmp_path / "warm").mkdir()
    with running_server(tmp_path / "cold") as cold:  # test servers start cold
        assert httpx.get(f"{cold.url}/health").json()["Models"] == {"Status": "off",
                                                                     "Loaded": []}
    with running_server(tmp_path / "warm", {"OVERSIGHT_WARM_START": "true"}) as warm:
        deadline = time.monotonic() + 300
        while (models := httpx.get(f"{warm.url}/health").json()["Models"])["Status"] != "ready":
            assert models["Status"] == "warming" and time.monotonic() < deadline
            time.sleep(0.5)
    # Every model of the face, label, text and moderation paths, before any request.
    assert {"YuNet", "SFace", "DlibResNet", "FaceMesh", "AgeGenderModel", "MobileNetV2",
            "CocoSSD", "RapidOcr", "OpenNsfw"} <= set(models["Loaded"])
