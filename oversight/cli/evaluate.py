"""`oversight evaluate ...`: measure the face models on the owner's data and publish the result.

Each command writes result.json, report.md and report.html (with plots) into
`<data dir>/evaluation/<kind>/` (or --output) and prints the JSON result; `model-card` turns the
saved results into docs/MODEL_CARD.md.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from ..config import settings
from ..evaluation.report import Report
from .output import print_json

T = TypeVar("T")

evaluate_app = typer.Typer(help="Measure accuracy and demographic differentials; write reports.",
                           no_args_is_help=True)

Output = Annotated[Path | None, typer.Option(
    "--output", help="Report folder (default: <data dir>/evaluation/<kind>).")]


def results_dir() -> Path:
    return settings().data_dir / "evaluation"


def _or_exit(action: Callable[[], T]) -> T:
    """Missing or malformed evaluation data is the user's to fix: say what, exit 2."""
    try:
        return action()
    except (FileNotFoundError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(code=2) from exc


def _run(kind: str, output: Path | None, command: list[str],
         evaluate: Callable[[], Report]) -> None:
    """Run one evaluation, record how to repeat it, write the report, print the result."""
    report = _or_exit(evaluate)
    report.result["command"] = shlex.join(["oversight", "evaluate", kind, *command])
    result_file = report.write(output or results_dir() / kind)
    sys.stderr.write(f"report: {result_file.parent / 'report.html'}\n")
    print_json(report.result)


# Each command imports its protocol when it runs: matplotlib and the model stack would
# otherwise slow down every other `oversight` command.


@evaluate_app.command("verification")
def verification(
    pairs: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False,
        help="LFW pairs file: View 1 (pairsDevTrain.txt) or View 2 (pairs.txt).")],
    images: Annotated[Path | None, typer.Option(
        file_okay=False, help="Folder of <name>/<name>_<nnnn>.jpg (default: 'images' beside "
                              "the pairs file, else its folder).")] = None,
    output: Output = None,
) -> None:
    """1:1 accuracy (10-fold), TAR at FAR, FMR/FNMR at Similarity 80/90/95/99."""
    from ..evaluation.verification import evaluate_verification

    if images is None:
        images = pairs.parent / "images" if (pairs.parent / "images").is_dir() else pairs.parent
    folder = images
    _run("verification", output, [str(pairs), "--images", str(folder)],
         lambda: evaluate_verification(pairs, folder))


@evaluate_app.command("identification")
def identification(
    sources: Annotated[list[Path], typer.Argument(
        exists=True, help="identities.csv files (path, identity) or folders with one "
                          "sub-folder per person.")],
    enrol_share: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of eligible people enrolled.")] = 0.5,
    gallery_size: Annotated[int, typer.Option(min=1, help="Images enrolled per person.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the choice of who is enrolled.")] = 0,
    output: Output = None,
) -> None:
    """1:N search: rank-1, FNIR/FPIR, and how many non-enrolled people get matched."""
    from ..evaluation.identification import evaluate_identification

    _run("identification", output,
         [*map(str, sources), "--enrol-share", f"{enrol_share:g}",
          "--gallery-size", str(gallery_size), "--seed", str(seed)],
         lambda: evaluate_identification(sources, enrol_share, gallery_size, seed))


@evaluate_app.command("demographics")
def demographics(
    source: Annotated[Path, typer.Argument(
        exists=True, help="CSV (path, optional identity, group columns) or a folder with one "
                          "sub-folder per person.")],
    labels: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="CSV of identity and group columns, joined on "
                                          "identity (e.g. LFW dev's race.csv).")] = None,
    group: Annotated[list[str] | None, typer.Option(
        help="Group column (repeatable; default: all but path and identity; 'age' is cut "
             "into bands).")] = None,
    face: Annotated[str, typer.Option(
        help="Face measured in each image: 'largest', or 'central' for crops that centre "
             "the named person (LFW).")] = "largest",
    output: Output = None,
) -> None:
    """FMR (and FNMR with identities) per group with 95 % intervals, FMR ratio, gender
    accuracy, age MAE. Reports go to <data dir>/evaluation/demographics/<data folder>."""
    from ..evaluation.demographics import evaluate_demographics

    folder = output or results_dir() / "demographics" / _data_name(source)
    _run("demographics", folder,
         [str(source), *(["--labels", str(labels)] if labels else []),
          *[arg for g in group or [] for arg in ("--group", g)], "--face", face],
         lambda: evaluate_demographics(source, group or None, labels, face))


@evaluate_app.command("calibration")
def calibration(
    folder: Annotated[Path, typer.Argument(
        exists=True, file_okay=False,
        help="LFW-style folder: images/<name>/*.jpg and pairsDevTrain.txt.")],
    labels: Annotated[Path, typer.Option(
        exists=True, dir_okay=False, help="CSV of identity and a group column (race.csv); "
                                          "used only to measure, never to fit.")],
    folds: Annotated[int, typer.Option(min=3, help="Folds of people for cross-fitting.")] = 5,
    clusters: Annotated[int, typer.Option(min=2, help="k-means clusters of the cluster "
                                                      "method.")] = 6,
    output: Output = None,
) -> None:
    """Compare group-agnostic calibrations (global, FairCal-style clusters, cohort Z-norm) of
    both matchers, cross-fitted: accuracy, overall FMR at 80, FMR per group and their ratio."""
    from ..evaluation.fairness import evaluate_calibrations

    _run("calibration", output,
         [str(folder), "--labels", str(labels), "--folds", str(folds),
          "--clusters", str(clusters)],
         lambda: evaluate_calibrations(folder, labels, folds, clusters))


def _data_name(source: Path) -> str:
    """The dataset a demographics source belongs to: LFW's images/ folder is named by its
    parent, a CSV by its folder."""
    folder = source.resolve() if source.is_dir() else source.resolve().parent
    return folder.parent.name if folder.name == "images" else folder.name


@evaluate_app.command("detection")
def detection(
    csv_file: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False, help="CSV of true face boxes: path, x, y, w, h.")],
    iou: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="IoU for a detection to count.")] = 0.5,
    output: Output = None,
) -> None:
    """Face detection recall and precision at an IoU threshold."""
    from ..evaluation.detection import evaluate_detection

    _run("detection", output, [str(csv_file), "--iou", f"{iou:g}"],
         lambda: evaluate_detection(csv_file, iou))


@evaluate_app.command("emotion")
def emotion(
    folders: Annotated[list[Path], typer.Argument(
        exists=True, file_okay=False,
        help="Folders of pictures named for their expression (happy.jpg, subject01.sad).")],
    output: Output = None,
) -> None:
    """Emotions per expression: confusion matrix and recall of each classifier."""
    from ..evaluation.emotion import evaluate_emotion

    _run("emotion", output, [*map(str, folders)], lambda: evaluate_emotion(folders))


@evaluate_app.command("face-cover")
def face_cover(
    covered: Annotated[list[Path] | None, typer.Option(
        exists=True, help="Pictures, folders or CSVs (path column) of faces wearing a mask "
                          "(repeatable).")] = None,
    uncovered: Annotated[list[Path] | None, typer.Option(
        exists=True, help="Pictures, folders or CSVs (path + group columns) of bare faces "
                          "(repeatable).")] = None,
    output: Output = None,
) -> None:
    """FaceOccluded: covered faces found and bare faces wrongly called covered."""
    from ..evaluation.face_cover import evaluate_face_cover

    _run("face-cover", output,
         [*[arg for p in covered or [] for arg in ("--covered", str(p))],
          *[arg for p in uncovered or [] for arg in ("--uncovered", str(p))]],
         lambda: evaluate_face_cover(covered or [], uncovered or []))


@evaluate_app.command("model-card")
def model_card(
    results: Annotated[Path | None, typer.Option(
        file_okay=False, help="Folder of the saved results (default: <data dir>/evaluation).")
    ] = None,
    output: Annotated[Path, typer.Option(dir_okay=False)] = Path("docs/MODEL_CARD.md"),
) -> None:
    """Regenerate the model card from the saved evaluation results."""
    from ..evaluation.model_card import write_model_card

    written = _or_exit(lambda: write_model_card(results or results_dir(), output))
    sys.stderr.write(f"model card: {written}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(evaluate_app, name="evaluate")
