"""A real Milvus server for tests: PyPI's `milvus` package (2.3) running standalone Milvus.

`make install` puts it in its own virtual environment, `.venv-milvus` (it pins setuptools and
marshmallow versions Oversight's own environment does not want); `OVERSIGHT_TEST_MILVUS_SERVER`
may name another `milvus-server` executable. The `milvus_url` fixture starts one server for the
whole session on a free port and stops it at the end; without the executable, tests that use it
skip, except under CI=true where that is a failure; `OVERSIGHT_TEST_MILVUS_URL` names a
server already running instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_server import _free_port

MILVUS_SERVER = Path(
    os.environ.get(
        "OVERSIGHT_TEST_MILVUS_SERVER",
        Path(__file__).resolve().parents[1] / ".venv-milvus" / "bin" / "milvus-server",
    )
)
IN_CI = os.environ.get("CI", "").lower() == "true"
_START_TIMEOUT_SECONDS = 180


def _wait_serving(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    from pymilvus import connections

    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        crash = log.parent / "logs" / "milvus-stderr.log"
        if process.poll() is not None or (
            crash.exists() and "panic:" in crash.read_text(errors="replace")
        ):
            # (the wrapper waits forever on a Milvus that died: look at Milvus's own log)
            raise RuntimeError(f"milvus-server failed: {crash.read_text()[:3000]}")
        if "Ctrl+C to exit" in log.read_text(errors="replace"):
            alias = f"probe-{port}"
            connections.connect(alias=alias, uri=f"http://127.0.0.1:{port}", timeout=30)
            connections.disconnect(alias)
            return
        time.sleep(0.3)
    raise RuntimeError(f"milvus-server did not start: {log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the wrapper and the Milvus process it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)  # the wrapper stops Milvus on SIGINT
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def start(data_dir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Start a Milvus server keeping its files in `data_dir`: (milvus:// URL, process)."""
    port = _free_port()
    log = data_dir / "milvus-server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    # Milvus's embedded etcd listens on 2379-2380 unless given its own configuration (Milvus
    # reads `etcd.config.path` from ETCD_CONFIG_PATH): free ports, so servers can run side by side.
    client, peer = f"http://127.0.0.1:{_free_port()}", f"http://127.0.0.1:{_free_port()}"
    etcd_config = data_dir / "embed-etcd.yaml"
    etcd_config.write_text(
        f"listen-client-urls: {client}\nadvertise-client-urls: {client}\n"
        f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\n"
        f"initial-cluster: default={peer}\n"
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(MILVUS_SERVER), "--data", str(data_dir), "--proxy-port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            # The wrapper prints its "ready" banner only after /healthz answers; unbuffered,
            # the banner reaches the log at once.
            env={**os.environ, "PYTHONUNBUFFERED": "1", "ETCD_CONFIG_PATH": str(etcd_config)},
            start_new_session=True,
        )
    try:
        _wait_serving(port, process, log)
    except BaseException:
        stop(process)
        raise
    return f"milvus://127.0.0.1:{port}", process


@pytest.fixture(scope="session")
def milvus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("OVERSIGHT_TEST_MILVUS_URL"):  # a server already running (development)
        yield os.environ["OVERSIGHT_TEST_MILVUS_URL"]
        return
    if not MILVUS_SERVER.exists():
        if IN_CI:
            pytest.fail(f"{MILVUS_SERVER} is missing under CI (make install creates it)")
        pytest.skip(f"{MILVUS_SERVER} not installed (make install creates it)")
    url, process = start(tmp_path_factory.mktemp("milvus"))
    try:
        yield url
    finally:
        stop(process)
