"""The `oversight` command. Each module in `_COMMAND_MODULES` adds its commands to the app."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="oversight",
    help="Accountable, self-hosted image and video analysis with Amazon Rekognition's API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES: tuple[str, ...] = ("server", "keys", "governance")

for _module in _COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}").register(app)


def main() -> None:
    app()
