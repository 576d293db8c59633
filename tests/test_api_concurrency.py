"""Operation slots, the event loop and body limits, in-process with a handler we can hold open.

No timings decide these tests: a handler blocks on an Event until the test releases it, so "the
slot is taken" and "the loop is free" are states, not races.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import anyio
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from oversight import operations
from oversight.api.app import create_app
from oversight.api.keys import KeyStore
from oversight.config import settings
from oversight.governance import catalog

# An operation Rekognition has and Oversight does not serve, so the test handler clashes with none.
HELD_OPERATION = "GetCelebrityInfo"
BASE = "http://oversight.test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def release() -> threading.Event:
    return threading.Event()


@pytest.fixture
def entered() -> threading.Event:
    return threading.Event()


@pytest.fixture
def held_handler(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event, entered: threading.Event
) -> None:
    operations.registry()
    assert HELD_OPERATION not in operations.registry()

    def hold(request: dict[str, Any], ctx: Any) -> dict[str, Any]:
        entered.set()
        release.wait(timeout=60)
        return {"Name": "held", "Urls": []}

    monkeypatch.setitem(operations._REGISTRY, HELD_OPERATION, hold)
    # Governed like any operation: it needs its row in the catalog.
    monkeypatch.setitem(catalog._BY_NAME, HELD_OPERATION, catalog.Row(HELD_OPERATION))


class Signed:
    def __init__(self, app: Any, key_id: str, secret: str) -> None:
        self.credentials = Credentials(key_id, secret)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    async def post(self, operation: str, body: bytes) -> httpx.Response:
        request = AWSRequest(
            method="POST",
            url=f"{BASE}/",
            data=body,
            headers={"X-Amz-Target": f"RekognitionService.{operation}"},
        )
        SigV4Auth(self.credentials, "rekognition", "us-east-1").add_auth(request)
        return await self.http.post("/", content=body, headers=dict(request.headers.items()))


@pytest.fixture
async def api(held_handler: None) -> AsyncIterator[Signed]:
    config = replace(
        settings(), max_concurrent_inference=1, request_timeout_seconds=0.2,
        max_request_bytes=64 * 1024,
    )
    keys = KeyStore.default()
    new_key = keys.create()
    app = create_app(keys, config)
    async with app.router.lifespan_context(app):
        signed = Signed(app, new_key.key.access_key_id, new_key.secret)
        yield signed
        await signed.http.aclose()


@pytest.mark.anyio
async def test_a_running_operation_leaves_the_loop_free_and_queued_ones_are_throttled(
    api: Signed, release: threading.Event, entered: threading.Event
) -> None:
    first: list[httpx.Response] = []
    async with anyio.create_task_group() as tasks:

        async def hold_the_only_slot() -> None:
            first.append(await api.post(HELD_OPERATION, b'{"Id": "1"}'))

        tasks.start_soon(hold_the_only_slot)
        await anyio.to_thread.run_sync(entered.wait, 60)  # the handler holds the only slot
        with anyio.fail_after(30):  # the loop answers while the handler thread is blocked
            assert (await api.http.get("/health")).json()["status"] == "ok"
            throttled = await api.post(HELD_OPERATION, b'{"Id": "2"}')
        release.set()
    assert throttled.status_code == 500, throttled.text  # botocore retries ThrottlingException
    assert throttled.json()["__type"] == "ThrottlingException"
    assert first[0].status_code == 200 and first[0].json()["Name"] == "held"


@pytest.mark.anyio
async def test_bodies_over_the_limit_are_refused(api: Signed, release: threading.Event) -> None:
    release.set()
    padding = b" " * (64 * 1024)
    image_op = await api.post("DetectFaces", b"{}" + padding)
    assert (image_op.status_code, image_op.json()["__type"]) == (400, "ImageTooLargeException")
    other_op = await api.post(HELD_OPERATION, b'{"Id": "1"}' + padding)
    assert (other_op.status_code, other_op.json()["__type"]) == (400, "ValidationException")
