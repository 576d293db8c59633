"""The `oversight` command. Every module of this package that defines `register(app)` adds its
commands; there is no list to keep in step."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from ..config import ConfigError

app = typer.Typer(
    name="oversight",
    help="Accountable, self-hosted image and video analysis with Amazon Rekognition's API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for _module in pkgutil.iter_modules(__path__):
    _register = getattr(importlib.import_module(f"{__name__}.{_module.name}"), "register", None)
    if _register is not None:
        _register(app)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        sys.stderr.write(f"oversight: configuration error: {exc}\n")
        raise SystemExit(2) from exc
