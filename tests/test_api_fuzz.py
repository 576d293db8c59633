"""Property: whatever a client sends, the server answers with a Rekognition-shaped result, no 5xx.

Requests are generated from botocore's model itself (so they reach deep into validation and the
handlers), then mutated: members dropped, values swapped for arbitrary JSON, bodies replaced by
bytes, images corrupted. Everything is signed, so the requests get past authentication.
"""

from __future__ import annotations

import base64
import io
import json
from functools import cache
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oversight.api.service_model import service_model
from tests.api_server import REGION, ApiServer

FUZZ_SETTINGS = settings(
    database=None,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(
    max_size=20
)
# One level of nesting is enough to hit every type check; deeper recursion only costs time.
JSON_VALUES = (
    _SCALARS
    | st.lists(_SCALARS, max_size=4)
    | st.dictionaries(st.text(max_size=10), _SCALARS, max_size=4)
)


def _small_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (96, 96), (120, 90, 60)).save(buffer, "PNG")
    return buffer.getvalue()


def _blobs() -> st.SearchStrategy[bytes]:
    png = _small_png()
    corrupted = st.tuples(st.integers(0, len(png) - 1), st.binary(min_size=1, max_size=8)).map(
        lambda cut: png[: cut[0]] + cut[1] + png[cut[0] + len(cut[1]):]
    )
    return st.one_of(st.just(png), corrupted, st.binary(min_size=1, max_size=64))


def _value(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    """Values that usually satisfy `shape`, sometimes straddle its limits."""
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, depth)
    if depth > 3:
        return st.none()
    if kind == "list":
        return st.lists(_value(shape.member, depth + 1), max_size=min(meta.get("max", 3), 3))
    if kind == "map":
        return st.dictionaries(
            _value(shape.key, depth + 1), _value(shape.value, depth + 1), max_size=2
        )
    if kind == "string":
        if shape.enum:
            return st.sampled_from(list(shape.enum)) | st.text(max_size=8)
        low = meta.get("min", 0)
        text = st.text(min_size=low, max_size=max(low, min(meta.get("max", 12), 12)))
        # Strings that fit a pattern: the alphabet of identifiers (names, ids) Rekognition uses.
        return text | st.text(
            alphabet="abcXYZ019_.-:", min_size=max(low, 1), max_size=max(low, 1, 12)
        )
    if kind in ("integer", "long"):
        low, high = meta.get("min", -(2**31)), meta.get("max", 2**31)
        return st.integers(low - 1, high + 1)
    if kind in ("float", "double"):
        return st.floats(meta.get("min", -1e6) - 1, meta.get("max", 1e6) + 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return _blobs().map(lambda data: base64.b64encode(data).decode())
    return JSON_VALUES


def _structure(shape: Shape, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    if depth > 3:
        return st.just({})
    members = {name: _value(member, depth + 1) for name, member in shape.members.items()}
    required = {name: members[name] for name in shape.required_members}
    optional = {name: s for name, s in members.items() if name not in required}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def _mutated(draw: st.DrawFn, request: st.SearchStrategy[dict[str, Any]]) -> Any:
    value = draw(request)
    choice = draw(st.integers(0, 3))
    if choice == 0 or not value:
        return value
    name = draw(st.sampled_from(sorted(value)))
    if choice == 1:
        return {k: v for k, v in value.items() if k != name}
    if choice == 2:
        return {**value, name: draw(JSON_VALUES)}
    return {**value, draw(st.text(max_size=10)): draw(JSON_VALUES)}


@cache
def _body(operation: str) -> st.SearchStrategy[bytes]:
    """Bodies for `operation`, built once: strategies are costly to construct."""
    shape = service_model().operation_model(operation).input_shape
    garbage = st.binary(max_size=64) | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    if shape is None:
        return garbage
    valid_or_mutated = _mutated(_structure(shape, 0)).map(lambda v: json.dumps(v).encode())
    return st.one_of(valid_or_mutated, valid_or_mutated, valid_or_mutated, garbage)


def requests() -> st.SearchStrategy[tuple[str, bytes]]:
    names = sorted(service_model().operation_names)
    return st.sampled_from(names).flatmap(lambda name: _body(name).map(lambda b: (name, b)))


@pytest.fixture(scope="module")
def http() -> Any:
    with httpx.Client(timeout=120) as session:
        yield session


def _send(server: ApiServer, http: httpx.Client, target: str, body: bytes) -> httpx.Response:
    request = AWSRequest(
        method="POST", url=f"{server.url}/", data=body, headers={"X-Amz-Target": target}
    )
    credentials = Credentials(server.access_key_id, server.secret_access_key)
    SigV4Auth(credentials, "rekognition", REGION).add_auth(request)
    headers = [(k, v.encode("latin-1")) for k, v in request.headers.items()]
    return http.post(f"{server.url}/", content=body, headers=headers)


def _assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    payload = response.json()
    if response.status_code >= 400:
        assert payload["__type"] and isinstance(payload["Message"], str)


@pytest.mark.slow
@settings(FUZZ_SETTINGS, max_examples=1000)
@given(request=requests())
def test_model_driven_requests_never_fail_the_server(
    api_server: ApiServer, http: httpx.Client, request: tuple[str, bytes]
) -> None:
    name, body = request
    _assert_answered(_send(api_server, http, f"RekognitionService.{name}", body))


# Header values are latin-1 without control characters (clients refuse to send anything else).
_HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
)
_TARGETS = _HEADER_TEXT | st.sampled_from(sorted(service_model().operation_names)).flatmap(
    lambda name: st.sampled_from(
        [f"RekognitionService.{name}", f"rekognitionservice.{name}", f"RekognitionService.{name}x",
         name, f"RekognitionService.{name.lower()}"]
    )
)


@pytest.mark.slow
@settings(FUZZ_SETTINGS, max_examples=200)
@given(target=_TARGETS, body=st.binary(max_size=256))
def test_arbitrary_targets_and_bodies(
    api_server: ApiServer, http: httpx.Client, target: str, body: bytes
) -> None:
    _assert_answered(_send(api_server, http, target, body))


def _small_astronaut_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((160, 160)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


_JPEG = _small_astronaut_jpeg()
# Corruptions: bytes overwritten anywhere (headers included), truncation, junk appended.
_CORRUPT_JPEGS = st.one_of(
    st.tuples(st.integers(0, len(_JPEG) - 1), st.binary(min_size=1, max_size=16)).map(
        lambda cut: _JPEG[: cut[0]] + cut[1] + _JPEG[cut[0] + len(cut[1]):]
    ),
    st.integers(1, len(_JPEG)).map(lambda n: _JPEG[:n]),
    st.binary(min_size=1, max_size=64).map(lambda junk: _JPEG + junk),
)


@pytest.mark.slow
@settings(FUZZ_SETTINGS, max_examples=40)
@given(image=_CORRUPT_JPEGS, compare=st.booleans())
def test_corrupted_photos_are_answered(
    api_server: ApiServer, http: httpx.Client, image: bytes, compare: bool
) -> None:
    blob = {"Bytes": base64.b64encode(image).decode()}
    if compare:
        target, body = "CompareFaces", {"SourceImage": blob, "TargetImage": blob}
    else:
        target, body = "DetectFaces", {"Image": blob}
    _assert_answered(
        _send(api_server, http, f"RekognitionService.{target}", json.dumps(body).encode())
    )


# Issue 12 finding 13: inputs that once answered 500.
@pytest.mark.parametrize("name", sorted(service_model().operation_names))
def test_lone_surrogates_are_serialization_errors(
    api_server: ApiServer, http: httpx.Client, name: str
) -> None:
    for body in (rb'{"\ud800":1}', rb'{"\udfff":"\ud800"}'):
        answer = _send(api_server, http, f"RekognitionService.{name}", body)
        _assert_answered(answer)
        assert answer.status_code == 400, answer.text[:300]


def test_an_overflowing_next_token_is_an_invalid_token(
    api_server: ApiServer, http: httpx.Client
) -> None:
    collection = "fuzz-token-overflow"
    _send(api_server, http, "RekognitionService.CreateCollection",
          json.dumps({"CollectionId": collection}).encode())
    for kind in ("faces", "users", "collections"):
        token = base64.urlsafe_b64encode(f"{kind}:99999999999999999999999".encode()).decode()
        for target in ("ListFaces", "ListUsers", "ListCollections"):
            body = {"NextToken": token}
            if target != "ListCollections":
                body["CollectionId"] = collection
            answer = _send(api_server, http, f"RekognitionService.{target}",
                           json.dumps(body).encode())
            _assert_answered(answer)
            assert answer.json()["__type"] == "InvalidPaginationTokenException", answer.text


@pytest.mark.parametrize("name", ["DetectText", "DetectFaces", "DetectLabels", "RedactFaces"])
def test_a_100000_by_80_png_is_too_large(
    api_server: ApiServer, http: httpx.Client, name: str
) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (100_000, 80)).save(buffer, "PNG")
    body = json.dumps({"Image": {"Bytes": base64.b64encode(buffer.getvalue()).decode()}})
    answer = _send(api_server, http, f"RekognitionService.{name}", body.encode())
    _assert_answered(answer)
    assert answer.json()["__type"] == "ImageTooLargeException", answer.text
