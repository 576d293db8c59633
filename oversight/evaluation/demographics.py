"""Demographic differentials: error rates and attribute accuracy per group.

Input is a CSV with a `path` column, an optional `identity` column and group columns (for
UTKFace: age, gender, race), or an identity folder (LFW's images/) with a labels CSV joined on
identity (LFW dev's race.csv). FMR per group comes from impostor pairs inside the group, which
is what NIST FRVT's demographic FMR measures; each rate carries its counts and 95 % Wilson
interval, because the smaller groups have a few hundred pairs. Without identity labels every
image is taken to be a different person (true of UTKFace up to rare repeats), so FNMR per group
needs identities and is reported as not measured otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast, get_args

import numpy as np
from tqdm import tqdm

from ..analysis import EMBEDDING_MODEL, face_analyzer
from ..analysis.calibration import DEFAULT_MATCHER
from ..analysis.calibrations import active_calibration
from ..analysis.embedding import SFACE_WEIGHT, split_fused
from ..operations.face_detail import face_detail
from . import plots
from .datasets import read_labelled_faces
from .embeddings import FaceChoice, embed_files, read_rgb
from .groups import (
    MIN_RATIO_PAIRS,
    age_band,
    age_mae,
    fmr_ratio,
    gender_accuracy,
    group_error_rates,
    minor_screening,
)
from .operating import DEFAULT_SIMILARITY
from .report import Report, rate_cell, rate_ci_cell

_NOT_GROUPS = {"path", "identity"}
# FMR 1e-2, 1e-3, 1e-4 and 1e-5: groups of a few hundred pairs are measurable only at the
# looser points, and the default 80 is where the goal is stated.
DEMOGRAPHIC_SIMILARITIES: tuple[float, ...] = (32.0, 48.0, 64.0, DEFAULT_SIMILARITY)
# Each embedder is compared at the threshold where its own FMR over all impostor pairs of the
# data is this: the calibrated Similarity belongs to the fused vector alone, and one common
# operating point shows which embedder spreads its false matches less evenly.
EMBEDDER_FMR = 1e-3
_LEFT_OUT = ""  # group label of rows a grouping leaves out
NO_IDENTITY_CAVEAT = (
    "The data has no identity labels, so every image is taken as a different person and FNMR "
    "per group cannot be measured (it needs identity labels). Repeated people then count as "
    "false matches: web-scraped sets such as UTKFace repeat people and even photos, so these "
    "FMRs are upper bounds, and the ratio between groups mixes the model's differential with "
    "how often each group's images repeat someone. Look at a group's highest-scoring pairs "
    "before reading its FMR as the model's.")


def _group_labels(rows: list[dict[str, str]], column: str) -> np.ndarray:
    """Group of each row; a numeric age column is cut into bands, since each age alone is too
    small a group."""
    values = [row[column] for row in rows]
    if column == "age":
        return np.array([age_band(float(v)) for v in values])
    return np.array(values)


def _groupings(rows: list[dict[str, str]], columns: list[str]) -> dict[str, np.ndarray]:
    """Group labels per column; with an age column, every other column again over adults only.

    Children's faces are far harder for these adult-trained models, so a group with more
    children shows more false matches: the adults-only view keeps the age mix of a sample from
    passing for a difference between races or genders.
    """
    groupings = {column: _group_labels(rows, column) for column in columns}
    if "age" in rows[0]:
        adult = np.array([float(row["age"]) >= 18 for row in rows])
        groupings |= {f"{column}, adults": np.where(adult, labels, _LEFT_OUT)
                      for column, labels in list(groupings.items()) if column != "age"}
    return groupings


def _predict_attributes(paths: list[Path], progress: bool) -> tuple[list[str | None], np.ndarray]:
    """Predicted gender and age (middle of AgeRange) of the largest face in each image."""
    analyzer = face_analyzer()
    genders: list[str | None] = []
    ages = np.full(len(paths), np.nan)
    for i, path in enumerate(tqdm(paths, desc="estimating age and gender", unit="image",
                                  disable=not progress)):
        image = read_rgb(path)
        faces = analyzer.detect(image)
        if not faces:
            genders.append(None)
            continue
        # What the API answers (AgeRange bounds, Gender) is what is measured.
        detail = face_detail(image, faces[0], frozenset({"AgeRange", "Gender"}), analyzer)
        genders.append(detail["Gender"]["Value"])
        ages[i] = (detail["AgeRange"]["Low"] + detail["AgeRange"]["High"]) / 2
    return genders, ages


def _group_table(similarity: np.ndarray, identities: np.ndarray, labels: np.ndarray,
                 genders: list[str | None], ages: np.ndarray, rows: list[dict[str, str]],
                 faced: np.ndarray) -> dict[str, Any]:
    per_threshold = {}
    for s in DEMOGRAPHIC_SIMILARITIES:
        rates = group_error_rates(similarity, identities, labels[faced], s)
        rates.pop(_LEFT_OUT, None)
        per_threshold[f"{s:g}"] = {
            "groups": {g: {"fmr": r.fmr.with_interval(), "fnmr": r.fnmr.with_interval()}
                       for g, r in rates.items()},
            "fmr_ratio": fmr_ratio(rates),
        }
    attributes: dict[str, Any] = {}
    for group in sorted(set(labels.tolist()) - {_LEFT_OUT}):
        members = np.flatnonzero(labels == group)
        entry: dict[str, Any] = {"images": int(members.size),
                                 "without_face": int(np.count_nonzero(~faced[members]))}
        if "identity" in rows[0]:
            entry["people"] = len({rows[i]["identity"] for i in members})
        if "gender" in rows[0]:
            entry["gender_accuracy"] = gender_accuracy(
                [rows[i]["gender"] for i in members], [genders[i] for i in members]).as_dict()
        if "age" in rows[0]:
            entry["age_mae"] = age_mae(np.array([float(rows[i]["age"]) for i in members]),
                                       ages[members])
        attributes[group] = entry
    return {"at_similarity": per_threshold, "attributes": attributes}


def _embedder_similarities(matrix: np.ndarray) -> dict[str, np.ndarray]:
    sface, dlib_vectors = split_fused(matrix)
    return {"SFace": sface @ sface.T, "dlib ResNet": dlib_vectors @ dlib_vectors.T,
            f"fused (SFace weight {SFACE_WEIGHT:g}, used)": matrix @ matrix.T}


def _by_embedder(matrix: np.ndarray, identities: np.ndarray,
                 groupings: dict[str, np.ndarray], faced: np.ndarray) -> dict[str, Any]:
    """Group FMRs of each embedder at its own threshold for EMBEDDER_FMR over the impostor
    pairs of the grouping's images (all of them, or the adults only)."""
    rows, cols = np.triu_indices(len(identities), k=1)
    impostor = identities[rows] != identities[cols]
    table: dict[str, Any] = {}
    for name, scores in _embedder_similarities(matrix).items():
        table[name] = {}
        for column, labels in groupings.items():
            if column == "age":
                continue
            grouped = labels[faced]
            counted = impostor & (grouped[rows] != _LEFT_OUT) & (grouped[cols] != _LEFT_OUT)
            threshold = float(np.quantile(scores[rows[counted], cols[counted]],
                                          1.0 - EMBEDDER_FMR))
            rates = group_error_rates(scores, identities, grouped, threshold)
            rates.pop(_LEFT_OUT, None)
            table[name][column] = {"groups": {g: r.fmr.as_dict() for g, r in rates.items()},
                                   "fmr_ratio": fmr_ratio(rates)}
    return table


def evaluate_demographics(source: Path, group_columns: list[str] | None = None,
                          labels: Path | None = None, face: str = "largest",
                          progress: bool = True) -> Report:
    if face not in get_args(FaceChoice):
        raise ValueError(f"face must be one of {', '.join(get_args(FaceChoice))}, not {face!r}")
    rows = read_labelled_faces(source, labels)
    if not rows:
        raise ValueError(f"{source} has no rows")
    columns = group_columns or [c for c in rows[0] if c not in _NOT_GROUPS]
    if missing := [c for c in columns if c not in rows[0]]:
        raise ValueError(f"no group column {', '.join(missing)} in {labels or source}")
    paths = [Path(row["path"]) for row in rows]
    vectors = embed_files(paths, progress=progress, choice=cast(FaceChoice, face))
    faced = np.array([vectors[p] is not None for p in paths])
    matrix = np.stack([vectors[p] for p in paths if vectors[p] is not None])
    # Pairs are judged by the calibration in force for the default matcher, as a search would.
    similarity = active_calibration(DEFAULT_MATCHER).similarity_matrix(matrix)
    has_identity = "identity" in rows[0]
    identities = np.array([row["identity"] if has_identity else str(i)
                           for i, row in enumerate(rows)])[faced]
    # Age and gender are estimated only where there are labels to score them against.
    genders, ages = (_predict_attributes(paths, progress) if {"age", "gender"} & set(rows[0])
                     else ([None] * len(paths), np.full(len(paths), np.nan)))
    groupings = _groupings(rows, columns)
    result: dict[str, Any] = {
        "kind": "demographics",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": EMBEDDING_MODEL,
        "data": {"csv": str(source), "labels": None if labels is None else str(labels),
                 "face": face, "images": len(rows),
                 "images_without_face": int(np.count_nonzero(~faced)),
                 "identity_labels": has_identity, "group_columns": columns},
        "default_similarity": DEFAULT_SIMILARITY,
        "min_ratio_pairs": MIN_RATIO_PAIRS,
        "by": {name: _group_table(similarity, identities, labels, genders, ages, rows, faced)
               for name, labels in groupings.items()},
        "embedder_fmr": EMBEDDER_FMR,
        "by_embedder": _by_embedder(matrix, identities, groupings, faced),
    }
    if "age" in rows[0]:
        result["minor_screening"] = minor_screening(
            np.array([float(row["age"]) for row in rows]), ages)
    report = Report("Demographic differentials", result)
    _describe(report, result)
    return report


def embedder_tables(result: dict[str, Any]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per grouping, (headers, rows) comparing the embedders' group FMRs at EMBEDDER_FMR."""
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    for name, by_column in result.get("by_embedder", {}).items():
        for column, entry in by_column.items():
            groups = list(entry["groups"])
            headers, body = tables.setdefault(
                column, (["embedder", *groups, "max/min FMR"], []))
            ratio = entry["fmr_ratio"]
            body.append([name, *[rate_cell(entry["groups"][g]) for g in groups],
                         "undefined" if ratio is None else f"{ratio:.1f}"])
    return tables


def group_table(result: dict[str, Any], column: str) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of one grouping: per group its size, FMR with counts and 95 % interval
    at each Similarity, FNMR at the default (with identities), and attribute accuracy."""
    table, default = result["by"][column], f"{result['default_similarity']:g}"
    groups = list(table["attributes"])
    first = table["attributes"][groups[0]] if groups else {}
    has_people = "people" in first
    headers = ["group", *(["people"] if has_people else []), "images",
               *[f"FMR at {s}" for s in table["at_similarity"]]]
    body = [[g, *([str(table["attributes"][g]["people"])] if has_people else []),
             str(table["attributes"][g]["images"]),
             *[rate_ci_cell(t["groups"][g]["fmr"]) for t in table["at_similarity"].values()]]
            for g in groups]
    if result["data"]["identity_labels"]:
        headers.append(f"FNMR at {default}")
        for g, line in zip(groups, body, strict=True):
            line.append(rate_ci_cell(table["at_similarity"][default]["groups"][g]["fnmr"]))
    for name, label in (("gender_accuracy", "gender accuracy"), ("age_mae", "age MAE")):
        if name in first:
            headers.append(label)
            for g, line in zip(groups, body, strict=True):
                value = table["attributes"][g][name]
                line.append(rate_cell(value) if isinstance(value, dict) else
                            "n/a" if value is None else f"{value:.1f} years")
    return headers, body


def ratio_line(result: dict[str, Any], column: str) -> str:
    """The max/min FMR ratio of a grouping at every reported Similarity."""
    parts = []
    for similarity, entry in result["by"][column]["at_similarity"].items():
        ratio = entry["fmr_ratio"]
        parts.append(f"{'undefined' if ratio is None else f'{ratio:.2f}'} at {similarity}")
    return (f"Max/min FMR ratio between groups with at least "
            f"{result.get('min_ratio_pairs', MIN_RATIO_PAIRS)} impostor pairs: "
            + ", ".join(parts) + " (undefined: a group had no false match, or fewer than two "
            "groups are large enough).")


def _describe(report: Report, result: dict[str, Any]) -> None:
    data, default = result["data"], f"{result['default_similarity']:g}"
    report.text(
        f"Embedding model `{result['embedding_model']}` on {data['images']} images of "
        f"`{data['csv']}`" + (f" with labels `{data['labels']}`" if data.get("labels") else "")
        + f" ({data['images_without_face']} without a detected face). FMR per "
        "group counts impostor pairs inside the group (NIST FRVT's demographic FMR); brackets "
        "give the 95 % Wilson interval. "
        + ("FNMR per group uses the identities." if data["identity_labels"] else
           NO_IDENTITY_CAVEAT))
    for column, table in result["by"].items():
        report.text(f"By {column}. " + ratio_line(result, column))
        report.table(*group_table(result, column))
        at_default = table["at_similarity"][default]
        report.figure(f"fmr_by_{column}",
                      plots.group_bars({g: at_default["groups"][g]["fmr"]["rate"]
                                        for g in table["attributes"]},
                                       f"FMR at Similarity {default} by {column}", "FMR",
                                       log=True),
                      f"False match rate at Similarity {default} per {column} group")
    for column, (headers, body) in embedder_tables(result).items():
        report.text(f"By {column}, each embedder at its own threshold for an overall FMR of "
                    f"{result['embedder_fmr']:g} over this grouping's images:")
        report.table(headers, body)
    if "minor_screening" in result:
        report.text(screening_text(result["minor_screening"]))
        report.table(*screening_table(result["minor_screening"]))


def screening_text(screening: dict[str, Any]) -> str:
    if not screening["minors"]:
        return "No under-18 in the data: how well the age estimate screens children is unmeasured."
    return (f"Telling children from adults by the estimated age (the middle of AgeRange, what a "
            f"policy's min_probe_age compares): over {screening['minors']} under-18s the age "
            f"error is {screening['minor_age_mae']:.1f} years on average, "
            f"{screening['minor_age_bias']:+.1f} years of it bias; {screening['adults']} adults.")


def screening_table(screening: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): per screening age, minors still searched and adults refused."""
    return (["refuse searches of probes estimated younger than", "under-18s still searched",
             "adults refused"],
            [[f"{age} years", rate_ci_cell(entry["minors_passed"]),
              rate_ci_cell(entry["adults_refused"])]
             for age, entry in screening["at_age"].items()])
