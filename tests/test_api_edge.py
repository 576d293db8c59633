"""The server's edge, as a network attacker reaches it: captured requests replayed with extra
headers (issue 12 finding 3)."""

from __future__ import annotations

import http.client
import io
import json
import urllib.parse
from typing import Any

import pytest
from PIL import Image
from skimage import data

from oversight.governance.audit import AuditLog
from tests.api_server import ApiServer, signed_headers

TARGET = "RekognitionService."
PURPOSE = "X-Oversight-Purpose"


def captured(server: ApiServer, operation: str, body: bytes, **extra: str) -> list[tuple]:
    """The header lines of a signed request for `operation`, as an eavesdropper captures them."""
    headers = signed_headers(server, body, TARGET + operation, headers=extra or None)
    return list(headers.items())


def raw_post(server: ApiServer, headers: list[tuple], body: bytes) -> tuple[int, dict[str, Any]]:
    """POST with exactly these header lines, repeats and order kept (httpx would merge them)."""
    url = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        connection.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        if not any(name.lower() == "host" for name, _ in headers):
            connection.putheader("Host", url.netloc)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        payload = answer.read()
        is_json = "json" in (answer.getheader("Content-Type") or "")
        return answer.status, json.loads(payload) if is_json else {}
    finally:
        connection.close()


@pytest.fixture(scope="module")
def face_in_collection(rekognition: Any) -> tuple[str, str]:
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)
    collection = "edge-replay"
    rekognition.create_collection(CollectionId=collection)
    indexed = rekognition.index_faces(
        CollectionId=collection, Image={"Bytes": buffer.getvalue()}, MaxFaces=1
    )
    return collection, indexed["FaceRecords"][0]["Face"]["FaceId"]


@pytest.mark.parametrize("where", ["prepended", "appended"])
def test_a_captured_request_cannot_be_re_aimed_by_a_repeated_target(
    api_server: ApiServer, rekognition: Any, face_in_collection: tuple[str, str], where: str
) -> None:
    collection, face_id = face_in_collection
    replays = [
        ("ListFaces", {"CollectionId": collection, "FaceIds": [face_id]}, "DeleteFaces"),
        ("DescribeCollection", {"CollectionId": collection}, "DeleteCollection"),
    ]
    for operation, request, aimed_at in replays:
        body = json.dumps(request).encode()
        headers = captured(api_server, operation, body)
        status, _ = raw_post(api_server, headers, body)
        assert status == 200  # the capture itself is a valid request
        extra = ("X-Amz-Target", TARGET + aimed_at)
        replay = [extra, *headers] if where == "prepended" else [*headers, extra]
        status, answer = raw_post(api_server, replay, body)
        assert (status, answer["__type"]) == (403, "InvalidSignatureException"), answer
        assert "x-amz-target" in answer["Message"]
    faces = rekognition.list_faces(CollectionId=collection)["Faces"]
    assert [face["FaceId"] for face in faces] == [face_id]


def test_a_purpose_is_recorded_only_as_signed(
    api_server: ApiServer, face_in_collection: tuple[str, str]
) -> None:
    collection, face_id = face_in_collection
    body = json.dumps({"CollectionId": collection, "FaceIds": [face_id]}).encode()
    headers = captured(api_server, "ListFaces", body, **{PURPOSE: "case 7"})
    forged = (PURPOSE, "FORGED")
    for replay in ([forged, *headers], [*headers, forged]):
        status, answer = raw_post(api_server, replay, body)
        assert (status, answer["__type"]) == (403, "InvalidSignatureException"), answer
    # A purpose added after signing (not in SignedHeaders) is refused, not recorded.
    unsigned = captured(api_server, "ListFaces", body)
    status, answer = raw_post(api_server, [*unsigned, forged], body)
    assert (status, answer["__type"]) == (403, "InvalidSignatureException"), answer
    assert PURPOSE in answer["Message"]
    log = AuditLog(api_server.data_dir / "audit")
    assert all(record.get("purpose") != "FORGED" for record in log.records())
    assert raw_post(api_server, headers, body)[0] == 200


def test_repeated_signed_headers_are_refused(api_server: ApiServer) -> None:
    body = b"{}"
    headers = captured(api_server, "ListCollections", body)
    host = urllib.parse.urlsplit(api_server.url).netloc
    for name in ("X-Amz-Date", "Content-Type", "Authorization", "Host"):
        extra = [(n, v) for n, v in [*headers, ("Host", host)] if n.lower() == name.lower()]
        try:
            status, answer = raw_post(api_server, [*extra, *extra, *headers], body)
        except ConnectionResetError:  # h11 refuses two Hosts and may close before reading all
            continue
        assert status in (400, 403), (name, status, answer)
        if answer:  # h11 itself answers a bare 400 to two Host headers
            assert answer["__type"] == "InvalidSignatureException", (name, answer)
    # Unsigned headers that nothing reads may repeat, as HTTP allows.
    extra = [("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-For", "10.0.0.2")]
    assert raw_post(api_server, [*extra, *headers], body)[0] == 200
