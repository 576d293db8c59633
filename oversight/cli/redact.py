"""`oversight redact IN OUT`: blur or pixelate every face of an image or a video file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from ..errors import InvalidParameterException
from ..operations.context import LOCAL_ACCOUNT, RequestContext
from .output import print_json, run_reporting_errors

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def _redact_image_file(source: Path, target: Path, method: str, spare: Any) -> dict[str, Any]:
    from ..images import load_image
    from ..operations.redaction import describe_regions, encoder
    from ..redaction import redact_image

    if target.suffix.lower() not in IMAGE_SUFFIXES:
        raise InvalidParameterException(
            f"write the redacted image as {', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    image = load_image(source)
    png = target.suffix.lower() == ".png"
    result = redact_image(image, method, spare, encoder("PNG" if png else "JPEG"))
    try:
        target.write_bytes(result.encoded or b"")
    except OSError as exc:
        raise InvalidParameterException(f"cannot write {target}: {exc.strerror}") from exc
    redacted, spared = describe_regions(result.regions, image.width, image.height)
    return {"Output": str(target), "RedactedFaces": redacted, "SparedFaces": spared}


def _redact_video_file(source: Path, target: Path, method: str, spare: Any) -> dict[str, Any]:
    from ..redaction.video import redact_video

    with tqdm(unit="frame", desc="redacting", leave=False) as bar:

        def advance(done: int, total: int) -> None:
            bar.total = total or None
            bar.update(done - bar.n)

        result = redact_video(source, target, method, spare, advance)
    return {
        "Output": str(target), "Frames": result.frames, "FacesRedacted": result.faces_redacted,
        "FacesSpared": result.faces_spared, "FramesPerSecond": result.fps,
    }


def redact(
    source: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Image or video.")
    ],
    target: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write the result.")],
    method: str = typer.Option("BLUR", help="BLUR or PIXELATE."),
    spare_collection: str = typer.Option(
        None, help="Leave faces matching this collection visible (e.g. consenting staff)."
    ),
    spare_threshold: float = typer.Option(
        None, min=0, max=100, help="Similarity a face needs to be spared (default 90)."
    ),
    max_spared: int = typer.Option(
        None, min=1, help="Spare at most this many faces per image or frame (others redacted)."
    ),
    account: str = typer.Option(LOCAL_ACCOUNT, help="Account owning the spare collection."),
    purpose: str = typer.Option(None, help="Why this is done (written to the audit log)."),
) -> None:
    """Redact faces; images are checked by detecting again on the output. Audited as
    RedactFaces. Video keeps every frame; its audio track is not copied."""
    from ..governance.gate import governed
    from ..operations.redaction import spare_rule
    from ..redaction import check_method

    method = method.upper()
    ctx = RequestContext(account_id=account, purpose=purpose)
    # What the gate judges: the threshold and the cap the run below uses.
    request = {
        "Method": method, "SpareCollectionId": spare_collection,
        "SpareFaceMatchThreshold": spare_threshold, "MaxSparedFaces": max_spared,
    }
    work = _redact_image_file if source.suffix.lower() in IMAGE_SUFFIXES else _redact_video_file

    def run() -> dict[str, Any]:
        check_method(method)
        spare = spare_rule(ctx, spare_collection, spare_threshold, max_spared)
        return work(source, target, method, spare)

    print_json(run_reporting_errors(lambda: governed(ctx, "RedactFaces", request, run)))


def register(app: typer.Typer) -> None:
    app.command("redact")(redact)
