"""How well FaceOccluded (the face-mask classifier) tells covered faces from bare ones.

    BULK=../shared/data/faces/insightface/cpp-package/inspireface/test_res/data/bulk
    oversight evaluate face-cover --covered $BULK/mask.png --covered $BULK/mask2.jpg \\
        --uncovered ../shared/data/faces/utkface-dev/attributes.csv \\
        --uncovered ../shared/data/faces/yalefaces/yalefaces

`--covered` and `--uncovered` take pictures, folders (read recursively; files that are not
images are skipped) or CSVs with a `path` column. The largest face of each picture is classified
at the service's threshold (0.5): the report gives the share of covered faces read as covered
and the share of bare faces wrongly read as covered, per source and, for a CSV, per value of
each of its other columns (ages in bands), since a wrong "covered" may fall on some people more
than on others.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import UnidentifiedImageError
from tqdm import tqdm

from ..analysis import face_analyzer
from ..analysis.protective_equipment import COVER_THRESHOLD
from .datasets import read_table
from .embeddings import read_rgb
from .groups import age_band
from .rate import Rate
from .report import Report, rate_cell


def _pictures(source: Path) -> list[tuple[Path, dict[str, str]]]:
    """(picture, group columns) of a source: a picture, a folder or a CSV with `path`."""
    if source.suffix.lower() == ".csv":
        rows = read_table(source)
        return [(Path(row["path"]), {k: v for k, v in row.items() if k != "path"})
                for row in rows]
    if source.is_dir():
        return [(p, {}) for p in sorted(source.rglob("*")) if p.is_file()]
    if source.is_file():
        return [(source, {})]
    raise FileNotFoundError(f"{source} does not exist")


def _group(column: str, value: str) -> str:
    return age_band(float(value)) if column == "age" else value


def _read_source(source: Path, covered: bool, progress: bool) -> dict[str, Any]:
    """The source's faces read as covered, overall and per group."""
    analyzer = face_analyzer()
    said = faces = without_face = 0
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    wrong_or_all = []  # covered sources: every reading; bare ones: the wrong readings
    for path, columns in tqdm(_pictures(source), desc=f"reading {source.name}", unit="image",
                              disable=not progress):
        try:
            image = read_rgb(path)
        except UnidentifiedImageError:
            continue
        found = analyzer.detect(image)
        if not found:
            without_face += 1
            continue
        probability = analyzer.face_cover(image, found[0])
        is_said = probability >= COVER_THRESHOLD
        faces += 1
        said += is_said
        for column, value in columns.items():
            counts = groups[column][_group(column, value)]
            counts[0] += is_said
            counts[1] += 1
        if covered or is_said:
            wrong_or_all.append({"image": str(path), "covered": probability, **columns})
    return {
        "covered": covered,
        "faces": faces,
        "without_face": without_face,
        "read_as_covered": Rate(said, faces).as_dict(),
        "by_group": {column: {group: Rate(*counts).as_dict()
                              for group, counts in sorted(values.items())}
                     for column, values in groups.items()},
        "pictures": wrong_or_all,
    }


def evaluate_face_cover(covered: list[Path], uncovered: list[Path],
                        progress: bool = True) -> Report:
    if not covered and not uncovered:
        raise ValueError("give --covered and/or --uncovered pictures, folders or CSVs")
    by_source = {str(source): _read_source(source, truth, progress)
                 for truth, sources in ((True, covered), (False, uncovered))
                 for source in sources}

    def pooled(truth: bool) -> dict[str, Any]:
        rows = [s["read_as_covered"] for s in by_source.values() if s["covered"] is truth]
        return Rate(sum(r["count"] for r in rows), sum(r["total"] for r in rows)).as_dict()

    result: dict[str, Any] = {
        "kind": "face-cover",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {"sources": list(by_source), "covered": [str(p) for p in covered],
                 "uncovered": [str(p) for p in uncovered]},
        "threshold": COVER_THRESHOLD,
        "covered_found": pooled(True),
        "uncovered_called_covered": pooled(False),
        "by_source": by_source,
    }
    report = Report("Face covers (FaceOccluded, PPE FACE_COVER)", result)
    report.text(f"Largest face of each picture; covered when the classifier's mask probability "
                f"is at least {COVER_THRESHOLD:g}.")
    report.table(*source_table(result))
    for table in group_tables(result):
        report.table(*table)
    return report


def _source_name(source: str) -> str:
    return f"`{'/'.join(Path(source).parts[-2:])}`"


def source_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    rows = [[_source_name(source), "covered" if s["covered"] else "bare", str(s["faces"]),
             str(s["without_face"]), rate_cell(s["read_as_covered"])]
            for source, s in result["by_source"].items()]
    return ["source", "faces are", "faces", "pictures without a face", "read as covered"], rows


def group_tables(result: dict[str, Any]) -> list[tuple[list[str], list[list[str]]]]:
    """Per CSV source and column: each group's share of faces read as covered."""
    return [([f"{_source_name(source)} {column}", "read as covered"],
             [[group, rate_cell(rate)] for group, rate in groups.items()])
            for source, s in result["by_source"].items()
            for column, groups in s["by_group"].items()]
