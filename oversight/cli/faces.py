"""`oversight detect-faces` and `oversight compare-faces`: the API's JSON, from local files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..rekognition import DEFAULT_MATCH_THRESHOLD
from .output import governed_call, image_member, print_json

ImageFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JPEG or PNG file")]
ATTRIBUTE_CHOICES = "DEFAULT, ALL or named attributes such as AGE_RANGE, GENDER, EYES_OPEN"


def register(app: typer.Typer) -> None:
    @app.command("detect-faces")
    def detect_faces(
        image: ImageFile,
        attributes: Annotated[
            list[str] | None, typer.Option("--attributes", help=ATTRIBUTE_CHOICES)
        ] = None,
    ) -> None:
        """Detect faces and describe them, as Rekognition's DetectFaces."""
        request = {"Image": image_member(image), "Attributes": attributes or ["DEFAULT"]}
        print_json(governed_call("DetectFaces", request))

    @app.command("compare-faces")
    def compare_faces(
        source: ImageFile,
        target: ImageFile,
        similarity_threshold: Annotated[
            float, typer.Option(min=0.0, max=100.0)
        ] = DEFAULT_MATCH_THRESHOLD,
        quality_filter: Annotated[
            str, typer.Option(help="NONE, AUTO, LOW, MEDIUM or HIGH")
        ] = "NONE",
    ) -> None:
        """Compare the largest face of SOURCE with every face in TARGET (CompareFaces)."""
        request = {
            "SourceImage": image_member(source),
            "TargetImage": image_member(target),
            "SimilarityThreshold": similarity_threshold,
            "QualityFilter": quality_filter,
        }
        print_json(governed_call("CompareFaces", request))
