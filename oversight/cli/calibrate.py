"""`oversight calibrate`: fit Similarity on the deployment's own people.

A calibration fitted on the people a deployment serves is the surest way to make a Similarity
threshold mean the same false-match rate for them (the packaged one is fitted on LFW, whose
people are mostly white men). It is written to `<data dir>/calibration/<matcher>.json`, which
every server process of the deployment reads at its next comparison, and each change is
recorded in the audit log. `oversight evaluate model-card` then describes the calibration in
force (docs/FAIRNESS.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..operations.context import RequestContext
from .output import print_json


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


def calibrate(
    source: Annotated[Path | None, typer.Argument(
        exists=True, help="identities.csv (path, identity) or a folder with one sub-folder "
                          "per person: the deployment's own people.")] = None,
    matcher: Annotated[list[str] | None, typer.Option(
        help="fused or sface (repeatable; default both).")] = None,
    method: Annotated[str, typer.Option(
        help="global (one map) or clusters (FairCal-style).")] = "global",
    clusters: Annotated[int, typer.Option(min=2, help="k-means clusters of --method "
                                                      "clusters.")] = 6,
    face: Annotated[str, typer.Option(
        help="Face used per image: largest, or central for crops that centre the person.")
    ] = "largest",
    reset: Annotated[bool, typer.Option(
        "--reset", help="Remove the deployment's calibration: the packaged one applies again.")
    ] = False,
) -> None:
    """Fit each matcher's Similarity calibration on identity-labelled faces (faces of different
    identities are the impostors) and install it for this deployment; every change is audited."""
    from ..analysis.calibration import MATCHERS
    from ..analysis.calibrations import install, uninstall
    from ..evaluation.calibrate import fit_own_people
    from ..governance import gate

    chosen = tuple(matcher or MATCHERS)
    unknown = [m for m in chosen if m not in MATCHERS]
    if unknown or method not in ("global", "clusters"):
        sys.stderr.write(f"error: unknown matcher or method: {', '.join(unknown) or method}\n")
        raise typer.Exit(code=2)
    ctx = RequestContext.local()
    if reset:
        removed = [m for m in chosen if uninstall(m)]
        for name in removed:
            gate.audit_admin_event(ctx, "DeleteCalibration", name)
        print_json({"Removed": removed})
        return
    if source is None:
        sys.stderr.write("error: name the identity-labelled faces to calibrate on\n")
        raise typer.Exit(code=2)
    try:
        fitted = fit_own_people(source, chosen, method, clusters, face)
    except (OSError, ValueError) as exc:  # OSError: a file PIL cannot read as an image
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(code=2) from exc
    written: dict[str, Any] = {}
    for name, calibration in fitted.items():
        path, before, after = install(calibration)
        summary = _summary(calibration.method, calibration.source)
        if after != before:
            gate.audit_admin_event(ctx, "PutCalibration", name,
                                   summary | {"Sha256": after, "PreviousSha256": before})
        written[name] = summary | {"File": str(path), "Changed": after != before}
    print_json({"Calibrations": written})


def _summary(method: str, source: dict[str, Any]) -> dict[str, Any]:
    at_80 = next((p for p in source.get("in_sample", []) if p["similarity"] == 80.0), None)
    return {"Method": method, "Faces": source["faces"], "Identities": source["identities"],
            "ImpostorPairs": source["impostor_pairs"],
            "ResolvedDecades": source["resolved_decades"],
            "InSampleFmrAt80": None if at_80 is None else at_80["fmr"]["rate"],
            "InSampleFnmrAt80": None if at_80 is None else at_80["fnmr"]["rate"]}
