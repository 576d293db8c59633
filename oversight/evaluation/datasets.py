"""Readers for the evaluation inputs an owner supplies: LFW pairs files, identity folders or
CSVs, attribute CSVs and face box CSVs. Paths come back absolute."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".pgm", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class Pairs:
    left: list[Path]
    right: list[Path]
    same: np.ndarray  # bool per pair
    folds: np.ndarray  # cross-validation fold per pair
    view: str  # "View 1" (one set, folds made here) or "View 2" (the file's own 10 sets)


def _lfw_image(images: Path, name: str, number: str) -> Path:
    return images / name / f"{name}_{int(number):04d}.jpg"


def read_pairs(pairs_file: Path, images: Path, folds: int = 10) -> Pairs:
    """Read an LFW pairs file: View 1 (`pairsDevTrain.txt`, header "N") or View 2
    (`pairs.txt`, header "sets N"), matched lines `name n1 n2`, mismatched `name1 n1 name2 n2`.

    View 1 has no folds of its own: its matched and mismatched halves are each cut into
    `folds` consecutive blocks, so every fold holds as many matched as mismatched pairs.
    """
    lines = [line.split() for line in pairs_file.read_text().splitlines() if line.strip()]
    header, rows = lines[0], lines[1:]
    left, right, same = [], [], []
    for row in rows:
        if len(row) == 3:
            left.append(_lfw_image(images, row[0], row[1]))
            right.append(_lfw_image(images, row[0], row[2]))
            same.append(True)
        elif len(row) == 4:
            left.append(_lfw_image(images, row[0], row[1]))
            right.append(_lfw_image(images, row[2], row[3]))
            same.append(False)
        else:
            raise ValueError(f"{pairs_file}: cannot read pair line {' '.join(row)!r}")
    index = np.arange(len(rows))
    if len(header) == 2:
        sets, per_set = int(header[0]), int(header[1])
        if len(rows) != sets * 2 * per_set:
            raise ValueError(f"{pairs_file}: header promises {sets}x{2 * per_set} pairs")
        fold_of = index // (2 * per_set)
        view = "View 2"
    else:
        per_class = int(header[0])
        if len(rows) != 2 * per_class:
            raise ValueError(f"{pairs_file}: header promises {2 * per_class} pairs")
        fold_of = (index % per_class) * folds // per_class
        view = "View 1"
    return Pairs(left=left, right=right, same=np.array(same, bool), folds=fold_of, view=view)


def _resolve(base: Path, relative: str) -> Path:
    """A CSV path relative to the CSV's folder or the folder above it (../shared/data/faces
    names paths from faces/), dropping leading folders the copy does not have (dlib-voc's CSV
    names paths from the dlib repository's root)."""
    parts = Path(relative).parts
    for root in (base, base.parent):
        for start in range(len(parts)):
            if (candidate := root.joinpath(*parts[start:])).exists():
                return candidate.resolve()
    return (base / relative).resolve()


def read_identities(source: Path) -> list[tuple[Path, str]]:
    """(image, identity) from a folder with one sub-folder per person, or from a CSV with
    `path` and `identity` columns."""
    if source.is_dir():
        return [
            (image.resolve(), person.name)
            for person in sorted(p for p in source.iterdir() if p.is_dir())
            for image in sorted(person.iterdir())
            if image.suffix.lower() in IMAGE_SUFFIXES
        ]
    with source.open(newline="") as handle:
        return [(_resolve(source.parent, row["path"]), row["identity"])
                for row in csv.DictReader(handle)]


def read_table(source: Path) -> list[dict[str, str]]:
    """Rows of a CSV with a `path` column, the path made absolute (see `_resolve`)."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "path" not in rows[0]:
        raise ValueError(f"{source}: needs a 'path' column")
    return [{**row, "path": str(_resolve(source.parent, row["path"]))} for row in rows]


# A label naming several groups (race.csv joins them with commas) forms this one group: each
# combination alone would be a group of one or two people.
SEVERAL_GROUPS = "multiple"


def read_labelled_faces(source: Path, labels: Path | None = None) -> list[dict[str, str]]:
    """Rows with `path` (absolute), perhaps `identity`, and group columns.

    `source` is a CSV of such rows, or a folder with one sub-folder per person (identity =
    folder name). `labels` is a CSV with an `identity` column and group columns, joined on
    identity: people it does not name get empty group labels (left out of every group).
    """
    if source.is_dir():
        rows = [{"path": str(path), "identity": identity}
                for path, identity in read_identities(source)]
    else:
        rows = read_table(source)
    if labels is None:
        return rows
    with labels.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    if not table or "identity" not in table[0]:
        raise ValueError(f"{labels}: needs an 'identity' column and group columns")
    if rows and "identity" not in rows[0]:
        raise ValueError(f"{source}: needs identities to join {labels} on")
    columns = [column for column in table[0] if column != "identity"]
    by_identity = {row["identity"]: row for row in table}
    joined = []
    for row in rows:
        label = by_identity.get(row["identity"], {})
        joined.append({**row, **{c: _one_group(label.get(c, "")) for c in columns}})
    return joined


def _one_group(label: str) -> str:
    return SEVERAL_GROUPS if "," in label else label.strip()


def read_boxes(source: Path) -> dict[Path, np.ndarray]:
    """Ground-truth face boxes per image from a CSV with path, x, y, w, h columns."""
    boxes: dict[Path, list[list[float]]] = defaultdict(list)
    for row in read_table(source):
        boxes[Path(row["path"])].append([float(row[k]) for k in ("x", "y", "w", "h")])
    return {path: np.array(rows) for path, rows in boxes.items()}
