"""The real server for API tests: `oversight serve` on a free port, shared by the whole session.

Fixtures (registered in tests/conftest.py, usable from any test module):
- `api_server`: the running server (`url`, `data_dir`, the first-start key, `env` for CLI calls),
  reading S3 objects (videos, images) from an S3-compatible endpoint at `s3_url` (moto's server),
  with the conformance suite's camera (tests/conformance/steps.json) mapped to a shared clip.
- `rekognition`: a boto3 Rekognition client signed with that key.

Helpers: `client(server, key_id, secret)` for other keys, `aws(server, *args)` runs the AWS CLI,
`oversight_cli(server, *args)` runs `oversight` against the server's data directory.
"""

from __future__ import annotations

import configparser
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Connection

from tests.engines import ENGINE_VARIABLES, server_engines

if TYPE_CHECKING:
    from oversight.governance.audit import AuditLog

BIN = Path(sys.executable).parent
REGION = "us-east-1"
_START_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class ApiServer:
    url: str
    data_dir: Path
    access_key_id: str
    secret_access_key: str
    log_path: Path
    # The S3-compatible endpoint the server reads Video/Image.S3Object from ("" when none).
    s3_url: str = ""
    pid: int = 0  # the server process (for its resident memory)
    # The engine settings it runs on (tests/engines.py; empty: the embedded defaults).
    engines: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses that share the server's store."""
        embedded = {variable: "" for variable in ENGINE_VARIABLES}
        return {**os.environ, **embedded, **self.engines, "OVERSIGHT_DATA_DIR": str(self.data_dir)}

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the server's metadata store."""
        return (self.engines.get("OVERSIGHT_DATABASE_URL")
                or f"sqlite:///{self.data_dir / 'oversight.db'}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"oversight serve exited: {log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"oversight serve did not become healthy: {log_path.read_text()[-3000:]}")


def start_server(
    data_dir: Path, extra_env: dict[str, str] | None = None
) -> tuple[ApiServer, subprocess.Popen[bytes]]:
    """Start `oversight serve` on `data_dir` (reusing it if it exists) and wait until healthy.
    For tests that need their own store or that kill the server."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir.parent / f"server-{port}.log"
    # Servers started for one test skip the warm start: it would only compete for the cores.
    env = {**os.environ, "OVERSIGHT_DATA_DIR": str(data_dir), "OVERSIGHT_WARM_START": "false",
           **(extra_env or {})}
    if not any(variable in (extra_env or {}) for variable in ENGINE_VARIABLES):
        env.update(server_engines(data_dir))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "oversight"), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:  # a server that cannot be handed over must not outlive the test
        _wait_healthy(url, process, log_path)
        credentials = configparser.ConfigParser()
        credentials.read(data_dir / "credentials")
        server = ApiServer(
            url=url,
            data_dir=data_dir,
            access_key_id=credentials["default"]["aws_access_key_id"],
            secret_access_key=credentials["default"]["aws_secret_access_key"],
            log_path=log_path,
            s3_url=env.get("OVERSIGHT_VIDEO_S3_ENDPOINT_URL", ""),
            pid=process.pid,
            engines={variable: env[variable] for variable in ENGINE_VARIABLES
                     if env.get(variable)},
        )
    except BaseException:
        process.kill()
        process.wait()
        raise
    return server, process


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(root: Path, extra_env: dict[str, str] | None = None) -> Iterator[ApiServer]:
    """Run `oversight serve` with its data directory under `root` until the block ends."""
    server, process = start_server(root / "oversight-data", extra_env)
    try:
        yield server
    finally:
        stop_server(process)


def s3_env(endpoint: str) -> dict[str, str]:
    """Server environment that reads S3 objects from `endpoint` (moto accepts any key)."""
    return {"OVERSIGHT_VIDEO_S3_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


CONFORMANCE_STEPS = Path(__file__).parent / "conformance" / "steps.json"


def _conformance_endpoints() -> dict[str, str]:
    """The conformance suite's stream processor endpoints: a camera playing a shared clip in
    real time and a match-event webhook."""
    from tests.conftest import SHARED_DATA

    endpoints = json.loads(CONFORMANCE_STEPS.read_text())["endpoint_map"]
    camera, clip = endpoints["camera"]
    events, webhook = endpoints["events"]
    return {"OVERSIGHT_ENDPOINT_MAP": f"{camera}=file://{SHARED_DATA / clip} {events}={webhook}"}


# A bucket of the session server's S3 endpoint that another tenant owns (s3_bucket_accounts).
OTHER_TENANT_BUCKET, OTHER_TENANT_ACCOUNT = "another-tenants-media", "222222222222"


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    from tests.video_helpers import s3_endpoint

    # Every test reaches it from 127.0.0.1, and many fail authentication on purpose: the
    # per-address failure throttle (tested in test_api_edge.py) must not refuse the next test.
    env = {**_conformance_endpoints(), "OVERSIGHT_WARM_START": "true",
           "OVERSIGHT_AUTH_FAILURES_PER_MINUTE": "100000",
           "OVERSIGHT_S3_BUCKET_ACCOUNTS": f"{OTHER_TENANT_BUCKET}={OTHER_TENANT_ACCOUNT}"}
    with s3_endpoint() as s3, running_server(tmp_path_factory.mktemp("api-server"),
                                             {**s3_env(s3), **env}) as server:
        yield server


def use_server_store(server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    """Point this process's store at the server's (its data directory and engines), so keys and
    policies made here govern the server."""
    from oversight.config import settings

    for variable, value in server.env.items():
        if variable == "OVERSIGHT_DATA_DIR" or variable in ENGINE_VARIABLES:
            monkeypatch.setenv(variable, value)
    settings.cache_clear()
    return server


@pytest.fixture
def server_store(api_server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    """The session's server, whose store this process uses for the test."""
    return use_server_store(api_server, monkeypatch)


def client(server: ApiServer, key_id: str, secret: str, **config: Any) -> Any:
    """A boto3 Rekognition client for `server` signing with the given key (no retries)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "rekognition",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


@pytest.fixture(scope="session")
def rekognition(api_server: ApiServer) -> Any:
    return client(api_server, api_server.access_key_id, api_server.secret_access_key)


def aws(server: ApiServer, *args: str, key: tuple[str, str] | None = None) -> tuple[int, Any, str]:
    """Run `aws rekognition ARGS` against `server`: (exit code, parsed JSON stdout, stderr)."""
    key_id, secret = key or (server.access_key_id, server.secret_access_key)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [str(BIN / "aws"), "rekognition", *args, "--endpoint-url", server.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    parsed = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, parsed, done.stderr


def oversight_cli(server: ApiServer, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `oversight` command on the server's data directory."""
    return subprocess.run(
        [str(BIN / "oversight"), *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def signed_headers(
    server: ApiServer,
    body: bytes,
    target: str = "RekognitionService.DetectFaces",
    key: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers botocore's SigV4 sends with `body` (what an eavesdropper would capture)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key_id, secret = key or (server.access_key_id, server.secret_access_key)
    request = AWSRequest(
        method="POST",
        url=f"{server.url}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
            **(headers or {}),
        },
    )
    SigV4Auth(Credentials(key_id, secret), "rekognition", REGION).add_auth(request)
    return dict(request.headers.items())


def signed_get(url: str, key: tuple[str, str], purpose: str | None = None) -> dict[str, str]:
    """The SigV4 headers of a GET of `url` (an event stream) signed with `key`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url,
                         headers={"X-Oversight-Purpose": purpose} if purpose else {})
    SigV4Auth(Credentials(*key), "rekognition", REGION).add_auth(request)
    return dict(request.headers.items())


def signed_post(
    server: ApiServer,
    body: bytes,
    target: str = "RekognitionService.DetectFaces",
    key: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    tamper: bytes | None = None,
) -> Any:
    """POST `body` signed by botocore's SigV4 (optionally sending `tamper` instead once signed)."""
    import httpx

    return httpx.post(
        f"{server.url}/",
        content=body if tamper is None else tamper,
        headers=signed_headers(server, body, target, key, headers),
        timeout=120,
    )


@contextmanager
def server_database(server: ApiServer) -> Iterator[Connection]:
    """A transaction on the server's metadata store, from this process (SQLite or PostgreSQL)."""
    from oversight.store import engine_for

    engine = engine_for(server.store_url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def server_audit_log(server: ApiServer) -> AuditLog:
    """The server's audit chain, read from this process (its file, or its PostgreSQL tables)."""
    from oversight.governance.audit import AuditLog

    return AuditLog(server.data_dir / "audit", server.store_url)


def create_key(server: ApiServer, account_id: str | None = None) -> tuple[str, str]:
    """A new key in the server's store, in-process (faster than `oversight keys create`)."""
    from oversight.api.keys import KeyStore, load_cipher, new_account_id
    from oversight.store import engine_for

    engine = engine_for(server.store_url)
    try:
        created = KeyStore(engine, load_cipher(server.data_dir)).create(
            account_id or new_account_id()
        )
    finally:
        engine.dispose()
    return created.key.access_key_id, created.secret
