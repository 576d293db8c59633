"""An `oversight serve` process of a test's own, for tests that need their own store or that kill
the server (the shared `api_server` fixture must stay up for everyone else)."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

from tests.api_server import BIN, ApiServer, _free_port, _wait_healthy


def start_server(
    data_dir: Path, extra_env: dict[str, str] | None = None
) -> tuple[ApiServer, subprocess.Popen[bytes]]:
    """Start `oversight serve` on `data_dir` (reusing it if it exists) and wait until healthy."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir.parent / f"server-{port}.log"
    env = {**os.environ, "OVERSIGHT_DATA_DIR": str(data_dir), **(extra_env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "oversight"), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(url, process, log_path)
    except RuntimeError:
        process.kill()
        raise
    credentials = configparser.ConfigParser()
    credentials.read(data_dir / "credentials")
    server = ApiServer(
        url=url,
        data_dir=data_dir,
        access_key_id=credentials["default"]["aws_access_key_id"],
        secret_access_key=credentials["default"]["aws_secret_access_key"],
        log_path=log_path,
    )
    return server, process


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
