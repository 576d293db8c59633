"""The web console (/console): login with an access key, sessions, CSRF, and face operations that
run through the governance gate exactly as API calls do (policy, purpose, audit log).

The server app runs in-process under Starlette's TestClient, on each test's own data directory,
with real images (scikit-image's astronaut, ../shared/data photos)."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from skimage import data as skimage_data
from starlette.testclient import TestClient

from oversight.api.calls import governed_call
from oversight.api.keys import KeyStore
from oversight.config import settings
from oversight.governance.audit import AuditLog
from oversight.governance.policy import Policy, put_policy
from oversight.operations.context import RequestContext
from tests.audit_storage import store_lines, stored_lines
from tests.conftest import shared_path
from tests.video_helpers import (
    BOY_IN_FIRST_FRAME,
    CROWD_CLIP,
    enrol_from_frame,
    hls_server,
    webhook_receiver,
)

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PURPOSE = "case 2026-17"


@dataclass
class Console:
    client: TestClient
    keys: KeyStore
    key_id: str
    secret: str

    def csrf(self, path: str = "/console/login") -> str:
        page = self.client.get(path)
        found = _CSRF.search(page.text)
        assert found, f"no CSRF token on {path}: {page.status_code} {page.text[:300]}"
        return found.group(1)

    def login(self, key_id: str | None = None, secret: str | None = None, purpose: str = "") -> Any:
        return self.client.post(
            "/console/login",
            data={
                "csrf_token": self.csrf(),
                "access_key_id": key_id or self.key_id,
                "secret_access_key": self.secret if secret is None else secret,
                "purpose": purpose,
            },
            follow_redirects=False,
        )

    def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
        """POST a form with this session's CSRF token."""
        # The accountability page runs ReadAuditLog only (which `_audit()` leaves out).
        token = self.csrf("/console/accountability")
        return self.client.post(path, data={"csrf_token": token, **data}, **kwargs)

    def analyse(self, image: bytes, operation: str, **fields: Any) -> Any:
        return self.post(
            "/console/analyse",
            {"operation": operation, **fields},
            files={"image": ("photo.png", image, "image/png")},
        )


@pytest.fixture
def console() -> Iterator[Console]:
    from oversight.api.app import create_app

    keys = KeyStore.default()
    created = keys.create()  # the local account, as `oversight serve` creates on first start
    with TestClient(create_app(keys)) as client:
        yield Console(client, keys, created.key.access_key_id, created.secret)


@pytest.fixture
def logged_in(console: Console) -> Console:
    assert console.login().status_code == 303
    return console


def _png(array: Any) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    return _png(skimage_data.astronaut())


def _response_json(page: str) -> dict[str, Any]:
    """The operation response a result page prints in its <pre>."""
    found = re.search(r"<pre>(.*?)</pre>", page, re.S)
    assert found, page[:500]
    return json.loads(html.unescape(found.group(1)))


def _audit(operation: str | None = None) -> list[dict[str, Any]]:
    """The operation records of `operation`, or of every operation but the console's own reads
    of the audit log."""
    return [
        r for r in AuditLog().records()
        if r["kind"] == "operation" and (
            r.get("operation") == operation
            or (operation is None and r.get("operation") != "ReadAuditLog"))
    ]


def _index(collection_id: str, image: bytes, person: str) -> str:
    """A collection holding the largest face of `image`, made by the local operator (CLI path)."""
    governed_call("CreateCollection", {"CollectionId": collection_id})
    indexed = governed_call(
        "IndexFaces",
        {
            "CollectionId": collection_id,
            "Image": {"Bytes": image},
            "ExternalImageId": person,
            "MaxFaces": 1,
        },
    )
    return str(indexed["FaceRecords"][0]["Face"]["FaceId"])


# -- authentication ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/collections",
        "/console/collections/any",
        "/console/analyse",
        "/console/stream-processors",
        "/console/stream-processors/any/events",
        "/console/accountability",
        "/console/accountability/report?from=2026-01-01&to=2026-12-31",
    ],
)
def test_pages_redirect_to_login_without_a_session(console: Console, path: str) -> None:
    answer = console.client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/console/login")


def test_actions_without_a_session_run_nothing(console: Console, astronaut: bytes) -> None:
    answer = console.client.post(
        "/console/analyse",
        data={"operation": "DetectFaces", "purpose": PURPOSE},
        files={"image": ("a.png", astronaut, "image/png")},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert _audit("DetectFaces") == []


def test_login_with_the_key_and_logout(console: Console) -> None:
    answer = console.login(purpose=PURPOSE)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert console.secret not in answer.headers["set-cookie"]
    overview = console.client.get("/console/")
    assert overview.status_code == 200
    assert console.key_id in overview.text and PURPOSE in overview.text
    assert "frame-ancestors 'none'" in overview.headers["content-security-policy"]
    assert console.post("/console/logout", {}, follow_redirects=False).status_code == 303
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_login_refused_with_a_wrong_secret(console: Console) -> None:
    wrong = console.secret[:-1] + ("A" if console.secret[-1] != "A" else "B")
    for key_id, secret in (
        (console.key_id, wrong),
        (console.key_id, ""),
        ("AKIANOSUCHKEY0000000", console.secret),
    ):
        answer = console.login(key_id, secret)
        assert answer.status_code == 403, (key_id, answer.text[:300])
        assert "UnrecognizedClientException" in answer.text
        assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_redirects_and_links_never_name_the_host_header(console: Console) -> None:
    """Issue 12 finding 15: `Host: evil.example` must not choose where a redirect or link goes."""
    console.client.headers["Host"] = "evil.example"
    answers = [
        console.client.get("/console/login", follow_redirects=False),
        console.client.get("/console", follow_redirects=False),
        console.client.get("/console/collections", follow_redirects=False),
        console.login(),
        console.client.get("/console/login", follow_redirects=False),
        console.client.get("/console/collections/", follow_redirects=False),
        console.post("/console/purpose", {"purpose": PURPOSE}, follow_redirects=False),
        console.post("/console/logout", {}, follow_redirects=False),
    ]
    locations = [a.headers["location"] for a in answers if "location" in a.headers]
    assert len(locations) == 6, [(a.status_code, a.headers.get("location")) for a in answers]
    assert all(loc.startswith("/console") for loc in locations), locations
    assert all("evil.example" not in a.text for a in answers)
    assert 'action="/console/login"' in answers[0].text


def test_the_login_form_is_small(console: Console) -> None:
    """Issue 12 finding 7: a stranger's login form is read before anyone is known."""
    answer = console.client.post(
        "/console/login",
        data={"csrf_token": console.csrf(), "access_key_id": console.key_id,
              "secret_access_key": console.secret, "purpose": "x" * 20_000},
        follow_redirects=False,
    )
    assert answer.status_code == 413
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_a_revoked_key_cannot_log_in_or_keep_its_session(logged_in: Console) -> None:
    assert logged_in.client.get("/console/collections").status_code == 200
    logged_in.keys.revoke(logged_in.key_id)
    assert logged_in.client.get("/console/collections", follow_redirects=False).status_code == 303
    answer = logged_in.login()
    assert answer.status_code == 403 and "UnrecognizedClientException" in answer.text


def test_login_without_csrf_token_is_refused(console: Console) -> None:
    console.csrf()  # a session with a token exists; the form just does not carry it
    answer = console.client.post(
        "/console/login",
        data={
            "access_key_id": console.key_id,
            "secret_access_key": console.secret,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_post_without_csrf_token_is_refused(logged_in: Console, astronaut: bytes) -> None:
    for token in (None, "forged"):
        fields = {"operation": "DetectFaces", "purpose": PURPOSE}
        if token:
            fields["csrf_token"] = token
        answer = logged_in.client.post(
            "/console/analyse", data=fields, files={"image": ("a.png", astronaut, "image/png")}
        )
        assert answer.status_code == 403 and "CSRF" in answer.text
    purpose = logged_in.client.post("/console/purpose", data={"purpose": "sneaky"})
    assert purpose.status_code == 403
    assert "sneaky" not in logged_in.client.get("/console/").text
    assert _audit("DetectFaces") == []


# -- face operations through the gate ----------------------------------------------------------
def test_detect_faces_finds_the_astronaut_and_is_audited_with_its_purpose(
    logged_in: Console, astronaut: bytes
) -> None:
    answer = logged_in.analyse(astronaut, "DetectFaces", purpose=PURPOSE)
    assert answer.status_code == 200, answer.text[:500]
    faces = _response_json(answer.text)["FaceDetails"]
    assert len(faces) == 1
    box = faces[0]["BoundingBox"]
    # Eileen Collins' face in the 512 x 512 picture: x 170-260, y 40-160 pixels (upper middle).
    assert 0.25 < box["Left"] < 0.45 and 0.03 < box["Top"] < 0.2, box
    assert answer.text.count("<rect ") == 1 and "data:image/jpeg;base64," in answer.text
    [record] = _audit("DetectFaces")
    assert record["key"] == logged_in.key_id and record["account"] == "000000000000"
    assert record["purpose"] == PURPOSE and record["outcome"] == "ok"
    assert record["counts"]["FaceDetails"] == 1
    assert AuditLog().verify().ok


def test_face_operations_without_a_purpose_are_refused(
    logged_in: Console, astronaut: bytes
) -> None:
    for operation in ("SearchFacesByImage", "DetectFaces"):
        answer = logged_in.analyse(
            astronaut, operation, collection="watch", threshold="99", max_faces="5", purpose="  "
        )
        assert answer.status_code == 400
        assert "InvalidParameterException" in answer.text and "purpose" in answer.text
    deleted = logged_in.post("/console/collections/watch/delete", {"face_id": "x"})
    assert deleted.status_code == 400 and "purpose" in deleted.text
    assert _audit() == []  # refused before the gate: nothing ran


def test_search_by_image_matches_and_a_policy_denial_is_shown(
    logged_in: Console, astronaut: bytes
) -> None:
    face_id = _index("crew", astronaut, "eileen-collins")
    put_policy(
        Policy(
            access_key_id=logged_in.key_id,
            min_match_threshold=95.0,
            max_faces=5,
            require_purpose=True,
        )
    )
    fields = {"collection": "crew", "max_faces": "5", "purpose": PURPOSE}
    refused = logged_in.analyse(astronaut, "SearchFacesByImage", threshold="80", **fields)
    assert refused.status_code == 400
    assert "AccessDeniedException" in refused.text and "FaceMatchThreshold" in refused.text
    found = logged_in.analyse(astronaut, "SearchFacesByImage", threshold="99", **fields)
    assert found.status_code == 200, found.text[:500]
    matches = _response_json(found.text)["FaceMatches"]
    assert [m["Face"]["FaceId"] for m in matches] == [face_id]
    assert "best match" in found.text
    refusal, search = _audit("SearchFacesByImage")
    assert refusal["refused_by"] and refusal["purpose"] == PURPOSE
    assert refusal["parameters"]["FaceMatchThreshold"] == 80.0
    assert search["outcome"] == "ok" and search["matches"][0]["face_id"] == face_id
    # Pages that list run under the session's purpose: without one, this policy refuses them.
    assert (
        logged_in.post("/console/purpose", {"purpose": ""}, follow_redirects=False).status_code
        == 303
    )
    listing = logged_in.client.get("/console/collections")
    assert listing.status_code == 400 and "AccessDeniedException" in listing.text
    assert _audit("ListCollections")[-1]["refused_by"]


def test_collections_faces_and_delete(logged_in: Console) -> None:
    photo = shared_path("faces/lfw-devtrain/images/George_W_Bush/George_W_Bush_0353.jpg")
    face_id = _index("visitors", photo.read_bytes(), "visitor-1")
    overview = logged_in.client.get("/console/")
    assert "visitors" in overview.text and "1 collection" in overview.text
    page = logged_in.client.get("/console/collections/visitors")
    assert page.status_code == 200 and face_id in page.text and "visitor-1" in page.text
    deleted = logged_in.post(
        "/console/collections/visitors/delete",
        {"face_id": face_id, "purpose": "retention request 7"},
    )
    assert deleted.status_code == 200, deleted.text[:500]
    assert _response_json(deleted.text)["DeletedFaces"] == [face_id]
    assert face_id not in logged_in.client.get("/console/collections/visitors").text
    [record] = _audit("DeleteFaces")
    assert record["purpose"] == "retention request 7" and record["deleted_face_ids"] == [face_id]
    listed = _audit("ListFaces")
    assert listed and all(r["key"] == logged_in.key_id for r in listed)
    assert any(
        r.get("kind") == "deletion" and r.get("face_ids") == [face_id] for r in AuditLog().records()
    )


def test_missing_collection_and_bad_uploads_show_errors(
    logged_in: Console, astronaut: bytes
) -> None:
    missing = logged_in.client.get("/console/collections/nobody-here")
    assert missing.status_code == 400 and "ResourceNotFoundException" in missing.text
    not_image = logged_in.analyse(b"%PDF-1.4 not an image", "DetectFaces", purpose=PURPOSE)
    assert not_image.status_code == 400 and "InvalidImageFormatException" in not_image.text
    empty = logged_in.analyse(b"", "DetectLabels")
    assert empty.status_code == 400 and "ValidationException" in empty.text
    huge = logged_in.analyse(b"\xff" * (6 * 1024 * 1024), "DetectText")
    assert huge.status_code == 400 and "ImageTooLargeException" in huge.text
    bogus = logged_in.analyse(astronaut, "DeleteCollection", purpose=PURPOSE)
    assert bogus.status_code == 400 and "InvalidParameterException" in bogus.text
    threshold = logged_in.analyse(
        astronaut,
        "SearchFacesByImage",
        collection="x",
        threshold="eighty",
        max_faces="1",
        purpose=PURPOSE,
    )
    assert threshold.status_code == 400 and "threshold must be a number" in threshold.text
    assert logged_in.client.get("/console/").status_code == 200
    [record] = _audit("DetectFaces")  # the bad image, refused by the operation and audited
    assert record["outcome"] == "InvalidImageFormatException"


@pytest.mark.slow
def test_detect_text_draws_its_lines(logged_in: Console) -> None:
    sign = shared_path("ocr/mmocr/demo/demo_text_det.jpg").read_bytes()
    answer = logged_in.analyse(sign, "DetectText")
    assert answer.status_code == 200, answer.text[:500]
    lines = [t for t in _response_json(answer.text)["TextDetections"] if t["Type"] == "LINE"]
    assert lines and answer.text.count("<rect ") == len(lines)
    assert _audit() == []  # text detection is not a face operation: not audited, as over the API


# -- accountability ----------------------------------------------------------------------------
def test_accountability_verifies_the_chain_and_renders_the_report(
    logged_in: Console, astronaut: bytes
) -> None:
    logged_in.analyse(astronaut, "DetectFaces", purpose=PURPOSE)
    page = logged_in.client.get("/console/accountability")
    assert page.status_code == 200 and PURPOSE in page.text and "DetectFaces" in page.text
    verified = logged_in.post("/console/accountability/verify", {})
    assert verified.status_code == 200 and "The chain verifies" in verified.text
    report = logged_in.client.get(
        "/console/accountability/report", params={"from": "2020-01-01", "to": "2100-12-31"}
    )
    assert report.status_code == 200 and "Oversight transparency report" in report.text
    as_json = logged_in.client.get(
        "/console/accountability/report",
        params={"from": "2020-01-01", "to": "2100-12-31", "format": "json"},
    )
    assert as_json.json()["AuditLog"]["Valid"] is True
    assert {"Operation": "DetectFaces", "Requests": 1, "Errors": 0} in as_json.json()["Operations"]
    bad = logged_in.client.get("/console/accountability/report", params={"from": "yesterday"})
    assert bad.status_code == 400 and "InvalidParameterException" in bad.text

    lines = stored_lines()
    edited = next(n for n, line in enumerate(lines) if PURPOSE.encode() in line)
    lines[edited] = lines[edited].replace(PURPOSE.encode(), b"case 0000-00")
    store_lines(lines)
    tampered = logged_in.post("/console/accountability/verify", {})
    assert "does NOT verify" in tampered.text and "was edited" in tampered.text


def test_other_accounts_records_are_not_shown(logged_in: Console, astronaut: bytes) -> None:
    other = logged_in.keys.create("123456789012")
    governed_call(
        "DetectFaces",
        {"Image": {"Bytes": astronaut}},
        ctx=RequestContext("123456789012", other.key.access_key_id, "other tenant"),
    )
    page = logged_in.client.get("/console/accountability")
    assert "other tenant" not in page.text and other.key.access_key_id not in page.text


def _other_tenant_writes(keys: KeyStore, purpose: str) -> tuple[str, str]:
    """Another account's key creates a collection; (its key id, the record's hash)."""
    other = keys.create("123456789012")
    ctx = RequestContext("123456789012", other.key.access_key_id, purpose)
    governed_call("CreateCollection", {"CollectionId": "other-tenants-faces"}, ctx=ctx)
    return other.key.access_key_id, AuditLog().head().hash


def test_finding_2_report_and_overview_cover_only_the_accounts_own_records(
    logged_in: Console,
) -> None:
    """Issue 12, finding 2: the console's transparency report and overview showed every tenant's
    keys, purposes and collections, and the global audit head."""
    governed_call("CreateCollection", {"CollectionId": "ours"}, ctx=RequestContext(
        "000000000000", logged_in.key_id, PURPOSE))
    other_key, theirs = _other_tenant_writes(logged_in.keys, "other tenant's case")
    overview = logged_in.client.get("/console/")
    ours = [r["hash"] for r in AuditLog().records() if r["account"] == "000000000000"]
    # The head shown is the account's last record before the page's own ReadAuditLog record.
    assert ours[-2][:16] in overview.text and theirs[:16] not in overview.text
    report = logged_in.client.get("/console/accountability/report", params={
        "from": "2020-01-01", "to": "2100-12-31", "format": "json"})
    text = report.text
    for leaked in (other_key, "other tenant's case", "other-tenants-faces", "123456789012"):
        assert leaked not in text, leaked
    integrity = report.json()["AuditLog"]
    assert integrity["Valid"] and integrity["Account"] == "000000000000"
    own = [r["hash"] for r in AuditLog().records() if r["account"] == "000000000000"]
    assert integrity["Head"]["hash"] == own[-2] and integrity["Records"] == len(own) - 1
    verified = logged_in.post("/console/accountability/verify", {})
    assert "The chain verifies" in verified.text and theirs not in verified.text


def test_finding_11_a_key_allowed_nothing_reads_nothing_and_console_reads_are_audited(
    console: Console,
) -> None:
    """Issue 12, finding 11: a key allowed no operations could read the account's audit records
    and open the event stream, and console reads were not audited."""
    governed_call("CreateCollection", {"CollectionId": "earlier"}, ctx=RequestContext(
        "000000000000", None, "an earlier case"))
    put_policy(Policy(console.key_id, allowed_operations=[]))
    assert console.login().status_code == 303  # logging in is authentication, not a read
    for path in ("/console/", "/console/accountability"):
        page = console.client.get(path)
        assert "AccessDeniedException" in page.text and "an earlier case" not in page.text
    for path in ("/console/accountability/report?from=2020-01-01&to=2100-12-31&format=json",
                 "/console/stream-processors/any/events"):
        refused = console.client.get(path)
        assert refused.status_code == 400 and "AccessDeniedException" in refused.text, path
    refusals = {r["operation"] for r in AuditLog().records()
                if r.get("key") == console.key_id and r.get("refused_by") == "operation"}
    assert refusals >= {"ReadAuditLog", "GetTransparencyReport", "GetStreamProcessorEvents"}

    put_policy(Policy(console.key_id, allowed_operations=["ReadAuditLog"]))
    page = console.client.get("/console/accountability")
    assert "an earlier case" in page.text
    read = [r for r in AuditLog().records()
            if r.get("operation") == "ReadAuditLog" and r.get("outcome") == "ok"]
    assert read and read[-1]["key"] == console.key_id


# -- stream processors -------------------------------------------------------------------------
CAMERA = "arn:aws:kinesisvideo:us-east-1:000000000000:stream/door-camera/1"
EVENTS = "arn:aws:kinesis:us-east-1:000000000000:stream/door-events"


@pytest.mark.slow
def test_stream_processor_started_from_the_console_streams_its_matches(
    logged_in: Console, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start a live face search (an HLS camera) from the console, watch its matches arrive
    through the console's session-authenticated proxy of the SSE endpoint, then stop it."""
    clip = shared_path(CROWD_CLIP)
    face_id = enrol_from_frame("watch", clip, "boy-in-blue", BOY_IN_FIRST_FRAME)
    # Ten plays (42 s): the processor is still running when the console stops it.
    with hls_server(clip, tmp_path, plays=10) as url, webhook_receiver() as hook:
        monkeypatch.setenv("OVERSIGHT_ENDPOINT_MAP", f"{CAMERA}={url} {EVENTS}={hook.url}")
        settings.cache_clear()
        governed_call(
            "CreateStreamProcessor",
            {
                "Name": "door",
                "RoleArn": "arn:aws:iam::000000000000:role/rekognition",
                "Input": {"KinesisVideoStream": {"Arn": CAMERA}},
                "Output": {"KinesisDataStream": {"Arn": EVENTS}},
                "Settings": {"FaceSearch": {"CollectionId": "watch", "FaceMatchThreshold": 90.0}},
            },
        )
        listed = logged_in.client.get("/console/stream-processors")
        assert listed.status_code == 200 and "door" in listed.text and "STOPPED" in listed.text
        started = logged_in.post(
            "/console/stream-processors/door/start", {"purpose": "door watch 3"}
        )
        assert started.status_code == 200, started.text[:500]
        live = logged_in.client.get("/console/stream-processors/door")
        assert "EventSource" in live.text and "door/events" in live.text
        match = None
        with logged_in.client.stream("GET", "/console/stream-processors/door/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            for line in events.iter_lines():
                if line.startswith("data: "):
                    match = json.loads(line.removeprefix("data: "))
                    break
        stopped = logged_in.post(
            "/console/stream-processors/door/stop", {"purpose": "door watch 3"}
        )
        assert stopped.status_code == 200, stopped.text[:500]
    assert match is not None, "no match event reached the console"
    matched = [face["MatchedFaces"][0]["Face"]["FaceId"] for face in match["FaceSearchResponse"]]
    assert matched == [face_id]
    started_record, stopped_record = (
        _audit("StartStreamProcessor")[-1],
        _audit("StopStreamProcessor")[-1],
    )
    for record in (started_record, stopped_record):
        assert record["key"] == logged_in.key_id and record["purpose"] == "door watch 3"
        assert record["outcome"] == "ok"
    missing = logged_in.client.get("/console/stream-processors/nobody/events")
    assert missing.status_code == 400 and "ResourceNotFoundException" in missing.text
