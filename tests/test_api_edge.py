"""The server's edge, as a network attacker reaches it: captured requests replayed with extra
headers (issue 12 finding 3); held-open uploads, half-sent headers and slow bodies (finding 7)
and repeated failed signatures and console logins (finding 12), against a server of its own with
short deadlines, a small body budget and a low failure allowance."""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from skimage import data

from oversight.api.intake import JSON_ALLOWANCE, body_limit
from oversight.api.service_model import operation_model
from tests.api_server import ApiServer, running_server, server_audit_log, signed_headers

# Each test starts or uses a real server (`make test-fast` skips them).
pytestmark = pytest.mark.slow

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
    log = server_audit_log(api_server)
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


# -- finding 7: what an unauthenticated client can hold -----------------------------------------
BUDGET = 16 * 1024 * 1024
FAILURES_PER_MINUTE = 5
EDGE_ENV = {
    "OVERSIGHT_AUTH_FAILURES_PER_MINUTE": str(FAILURES_PER_MINUTE),
    "OVERSIGHT_HEADER_TIMEOUT_SECONDS": "1",
    "OVERSIGHT_BODY_TIMEOUT_SECONDS": "3",
    "OVERSIGHT_MAX_UNAUTHENTICATED_BYTES": str(BUDGET),
    # As behind a reverse proxy on this host: X-Forwarded-For names the client.
    "OVERSIGHT_TRUSTED_PROXIES": "127.0.0.1",
}


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with running_server(tmp_path_factory.mktemp("edge-server"), EDGE_ENV) as server:
        yield server


def _connect(server: ApiServer) -> socket.socket:
    url = urllib.parse.urlsplit(server.url)
    connection = socket.create_connection((url.hostname, url.port), timeout=30)
    return connection


def _answer(connection: socket.socket) -> bytes:
    """What the server sends before closing (b"" when it closes without a word)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and b'"Message"' in received:
                break
    except ConnectionResetError:
        pass
    return received


def _upload_head(operation: str, length: int) -> bytes:
    return (
        f"POST / HTTP/1.1\r\nHost: edge\r\nX-Amz-Target: {TARGET}{operation}\r\n"
        f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _rss_mb(server: ApiServer) -> float:
    status = Path(f"/proc/{server.pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def test_body_limits_come_from_the_operation() -> None:
    image = 4 * -(-5 * 1024 * 1024 // 3)  # one 5 MB image as base64
    assert body_limit(operation_model("ListCollections")) == JSON_ALLOWANCE
    assert body_limit(operation_model("DetectFaces")) == JSON_ALLOWANCE + image
    assert body_limit(operation_model("CompareFaces")) == JSON_ALLOWANCE + 2 * image


def test_a_body_over_the_operations_limit_is_refused_before_it_is_read(
    edge_server: ApiServer,
) -> None:
    with _connect(edge_server) as connection:
        connection.sendall(_upload_head("ListCollections", JSON_ALLOWANCE + 1))  # and no body
        answer = _answer(connection)
    assert b" 400 " in answer.split(b"\r\n")[0] and b"ValidationException" in answer, answer


def test_half_sent_headers_and_idle_connections_are_closed(edge_server: ApiServer) -> None:
    connections = [_connect(edge_server) for _ in range(50)]
    try:
        for i, connection in enumerate(connections):
            if i % 5:  # and every fifth sends nothing at all
                connection.sendall(b"POST / HTTP/1.1\r\nHost: edge\r\nX-Amz-Tar")
        # Closed by the server (1 s header deadline); a timeout here means it kept them open.
        assert all(_answer(connection) == b"" for connection in connections)
    finally:
        for connection in connections:
            connection.close()


def test_a_slow_body_is_timed_out(edge_server: ApiServer) -> None:
    with _connect(edge_server) as connection:
        connection.sendall(_upload_head("ListCollections", 100) + b'{"MaxRes')
        answer = _answer(connection)
    assert b" 408 " in answer.split(b"\r\n")[0] and b"RequestTimeoutException" in answer, answer


def test_held_uploads_are_capped_by_the_unauthenticated_budget(edge_server: ApiServer) -> None:
    """24 clients each start a 7 MB upload and send 6 MB of it: only two fit the 16 MB budget,
    the others are refused at once, and the server's memory does not grow by their bodies."""
    declared, sent = 7_000_000, b"A" * 6_000_000
    before = _rss_mb(edge_server)

    def start_upload(_: int) -> socket.socket:
        connection = _connect(edge_server)
        try:
            connection.sendall(_upload_head("DetectFaces", declared) + sent)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed while we were still sending
        return connection

    with ThreadPoolExecutor(max_workers=24) as pool:
        connections = list(pool.map(start_upload, range(24)))
    try:
        grown = _rss_mb(edge_server) - before
        held = []
        for connection in connections:
            connection.setblocking(False)
            try:
                answered = connection.recv(65536)
            except BlockingIOError:
                held.append(connection)  # nothing answered yet: its body is being received
                continue
            except ConnectionResetError:
                continue
            finally:
                connection.setblocking(True)
            assert answered == b"" or b"ThrottlingException" in answered, answered[:300]
        assert len(held) <= BUDGET // declared, len(held)
        assert grown < 48, f"RSS grew by {grown:.0f} MB while 24 x 6 MB uploads were held"
    finally:
        for connection in connections:
            connection.close()


# -- finding 12: failed authentications are throttled per source address ---------------------------
def _from(address: str) -> dict[str, str]:
    """Appear to come from `address` (the edge server trusts a proxy on 127.0.0.1)."""
    return {"X-Forwarded-For": address}


def _signed_list(server: ApiServer, secret: str, address: str) -> httpx.Response:
    body = b"{}"
    headers = signed_headers(server, body, TARGET + "ListCollections",
                             key=(server.access_key_id, secret))
    return httpx.post(server.url + "/", content=body, headers={**headers, **_from(address)})


def test_failed_signatures_are_throttled_per_address(edge_server: ApiServer) -> None:
    wrong = edge_server.secret_access_key[:-1] + "!"
    for _ in range(FAILURES_PER_MINUTE):
        answer = _signed_list(edge_server, wrong, "198.51.100.7")
        assert answer.json()["__type"] == "InvalidSignatureException", answer.text
    # Over the allowance, the address is refused before any signature is checked, even a good one.
    for secret in (wrong, edge_server.secret_access_key):
        answer = _signed_list(edge_server, secret, "198.51.100.7")
        assert answer.json()["__type"] == "ThrottlingException", answer.text
    # Another address is not affected.
    assert _signed_list(edge_server, edge_server.secret_access_key, "198.51.100.8").is_success


def test_failed_console_logins_are_throttled_per_address(edge_server: ApiServer) -> None:
    with httpx.Client(base_url=edge_server.url, headers=_from("198.51.100.9")) as browser:

        def log_in(secret: str) -> httpx.Response:
            page = browser.get("/console/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token, page.text[:300]
            return browser.post("/console/login", data={
                "csrf_token": token.group(1), "access_key_id": edge_server.access_key_id,
                "secret_access_key": secret, "purpose": ""})

        for _ in range(FAILURES_PER_MINUTE):
            assert "UnrecognizedClientException" in log_in("wrong").text
        refused = log_in(edge_server.secret_access_key)
        assert "ThrottlingException" in refused.text
        assert browser.get("/console/", follow_redirects=False).status_code == 303  # not in


def test_without_a_trusted_proxy_the_client_cannot_name_its_address(api_server: ApiServer) -> None:
    """No `trusted_proxies`: X-Forwarded-For is only a header. Before, any local process could
    name the address the failure throttle counts (a new one per attempt: no throttle at all) and
    the one the audit log records."""
    body = b'{"NotAMember": 1}'  # refused after authentication: its refusal is recorded
    headers = signed_headers(api_server, body, TARGET + "ListCollections")
    answer = httpx.post(api_server.url + "/", content=body,
                        headers={**headers, "X-Forwarded-For": "203.0.113.66"})
    assert answer.json()["__type"] == "ValidationException", answer.text
    request_id = answer.headers["x-amzn-requestid"]
    (record,) = [r for r in server_audit_log(api_server).records()
                 if r.get("request_id") == request_id]
    assert record["remote"] == "127.0.0.1"
