"""`oversight detect-labels|detect-text|detect-moderation-labels IMAGE`: the API's JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .output import governed_call, print_json

_IMAGE = typer.Argument(..., exists=True, dir_okay=False, help="JPEG or PNG file")
_INCLUDE = typer.Option(None, help="Only these label names (repeatable).")
_EXCLUDE = typer.Option(None, help="Never these label names (repeatable).")


def _run(operation: str, request: dict[str, Any]) -> None:
    # Options left unset are left out, so the operation applies Rekognition's own defaults.
    request = {key: value for key, value in request.items() if value is not None}
    print_json(governed_call(operation, request))


def register(app: typer.Typer) -> None:
    @app.command("detect-labels")
    def detect_labels(
        image: Path = _IMAGE,
        max_labels: int = typer.Option(None, min=0, help="Return at most this many labels."),
        min_confidence: float = typer.Option(None, min=0.0, max=100.0, help="Default 55."),
        image_properties: bool = typer.Option(
            False, help="Also report colours, brightness, sharpness and contrast."
        ),
        include: list[str] | None = _INCLUDE,
        exclude: list[str] | None = _EXCLUDE,
    ) -> None:
        """Objects, scenes, people and faces in IMAGE, as Rekognition's DetectLabels."""
        request: dict[str, Any] = {
            "Image": {"Bytes": image.read_bytes()},
            "MinConfidence": min_confidence,
            "MaxLabels": max_labels,
            "Features": ["GENERAL_LABELS"] + (["IMAGE_PROPERTIES"] if image_properties else []),
            "Settings": {
                "GeneralLabels": {
                    "LabelInclusionFilters": include or [],
                    "LabelExclusionFilters": exclude or [],
                }
            },
        }
        _run("DetectLabels", request)

    @app.command("detect-text")
    def detect_text(
        image: Path = _IMAGE,
        min_confidence: float = typer.Option(
            None, min=0.0, max=100.0, help="Drop words below this confidence (80)."
        ),
    ) -> None:
        """Lines and words of text in IMAGE, as Rekognition's DetectText."""
        word_filter = {} if min_confidence is None else {"MinConfidence": min_confidence}
        _run(
            "DetectText",
            {"Image": {"Bytes": image.read_bytes()}, "Filters": {"WordFilter": word_filter}},
        )

    @app.command("detect-moderation-labels")
    def detect_moderation_labels(
        image: Path = _IMAGE,
        min_confidence: float = typer.Option(None, min=0.0, max=100.0, help="Default 50."),
    ) -> None:
        """Unsafe-content labels for IMAGE, as Rekognition's DetectModerationLabels."""
        _run(
            "DetectModerationLabels",
            {"Image": {"Bytes": image.read_bytes()}, "MinConfidence": min_confidence},
        )
