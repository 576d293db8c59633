"""Start-up cost (issue 17, item 6): `oversight --help` loads no service stack, and the operation
registry scans its package once per process, not once per request."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oversight import operations

# Each takes a noticeable part of a second to import; a command pays for them when it runs.
HEAVY = ["alembic", "botocore", "faiss", "matplotlib", "numpy", "onnx", "onnxruntime", "sqlalchemy"]


def test_cli_start_up_imports_no_service_stack() -> None:
    probe = (
        "import sys, json, oversight.cli; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


def test_registry_scans_the_package_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = operations.registry()

    def rescan(*args: object) -> None:
        raise AssertionError("the operations package was scanned again")

    monkeypatch.setattr(operations.pkgutil, "iter_modules", rescan)
    assert operations.registry() is first
    assert "DetectFaces" in operations.registry()
