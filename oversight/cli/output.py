"""Shared CLI plumbing: print API-shaped JSON, turn Rekognition errors into exit codes.

Command modules import the service (models, database, botocore) inside their commands, never at
module level: every command module loads when `oversight` starts, `--help` included.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ..errors import RekognitionError


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def run_reporting_errors(action: Callable[[], Any]) -> Any:
    """Run `action`; a Rekognition error prints as the API would send it and exits with 1."""
    try:
        return action()
    except RekognitionError as exc:
        sys.stderr.write(json.dumps({"__type": exc.code, "Message": exc.message}) + "\n")
        raise typer.Exit(code=1) from exc


def governed_call(operation: str, request: dict[str, Any]) -> Any:
    """Run a Rekognition operation as the local operator, through the governance gate; a
    Rekognition error prints as the API would send it and exits with 1."""
    from ..api.calls import governed_call

    return run_reporting_errors(lambda: governed_call(operation, request))


def image_member(path: Path) -> dict[str, bytes]:
    """The request's Image member for a local file, warning when the API would refuse it."""
    from ..images import MAX_INLINE_BYTES

    data = path.read_bytes()
    if len(data) > MAX_INLINE_BYTES:
        typer.echo(f"warning: {path} is over 5 MB; the API would refuse it", err=True)
    return {"Bytes": data}
