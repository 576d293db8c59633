"""DetectText accuracy against line-level ground truth (SROIE's `box/*.csv` layout).

Character error rate (CER) by row: ground-truth lines and detected LINEs that overlap (vertical
overlap over half the shorter height, horizontal overlap > 0) form groups, since OCR and
annotators split a receipt row differently ("Qty Price Amt(RM)" is three annotated lines); each
group's texts are joined left to right and compared by edit distance. Whitespace is removed,
case folded and dot leaders ("TOTAL.........RM") shortened to one dot first: SROIE transcribes
in capitals, spaces text its own way and counts filler dots no reader needs. Ground-truth lines
annotated twice (boxes overlapping by more than half) count once, and rows SROIE marks "***"
(text it did not transcribe, such as Chinese) are left out. Ground-truth lines nobody
detected count as fully wrong; detections with no ground truth are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

Box = tuple[float, float, float, float]  # left, top, right, bottom in pixels


@dataclass(frozen=True)
class TruthLine:
    box: Box
    text: str


@dataclass(frozen=True)
class TextScore:
    errors: int  # edit operations summed over ground-truth lines
    characters: int  # ground-truth characters (no whitespace)
    words: int  # detected words
    words_on_truth: int  # detected words lying mostly inside a ground-truth line box

    @property
    def cer(self) -> float:
        return self.errors / self.characters if self.characters else 0.0


def read_sroie_boxes(path: Path) -> list[TruthLine]:
    """`x1,y1,x2,y2,x3,y3,x4,y4,text` per line (the text may itself hold commas)."""
    lines: list[TruthLine] = []
    for row in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = row.split(",", 8)
        if len(parts) < 9:
            continue
        xs, ys = [float(v) for v in parts[0:8:2]], [float(v) for v in parts[1:8:2]]
        box = (min(xs), min(ys), max(xs), max(ys))
        if not any(_inside_share(box, seen.box) > 0.5 and _inside_share(seen.box, box) > 0.5
                   for seen in lines):
            lines.append(TruthLine(box, parts[8].strip()))
    return lines


def _pixel_box(detection: dict[str, Any], width: int, height: int) -> Box:
    b = detection["Geometry"]["BoundingBox"]
    left, top = b["Left"] * width, b["Top"] * height
    return left, top, left + b["Width"] * width, top + b["Height"] * height


def _same_row(a: Box, b: Box) -> bool:
    vertical = min(a[3], b[3]) - max(a[1], b[1])
    horizontal = min(a[2], b[2]) - max(a[0], b[0])
    return horizontal > 0 and vertical > 0.5 * min(a[3] - a[1], b[3] - b[1])


def _inside_share(inner: Box, outer: Box) -> float:
    w = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    h = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return w * h / area if area > 0 else 0.0


_DOT_LEADER = re.compile(r"\.{2,}")


def _joined(items: list[tuple[Box, str]], key: Callable[[tuple[Box, str]], Any]) -> str:
    text = "".join("".join(text.split()).upper() for _, text in sorted(items, key=key))
    return _DOT_LEADER.sub(".", text)


# A group can hold one row split differently (read left to right) or several rows a slanted
# line joined (read top to bottom): both readings are tried, the closer one counts.
_READING_ORDERS: tuple[Callable[[tuple[Box, str]], Any], ...] = (
    lambda item: (item[0][0], item[0][1]),
    lambda item: (item[0][1], item[0][0]),
)


def _row_groups(truth: list[Box], found: list[Box]) -> list[tuple[list[int], list[int]]]:
    """Connected groups of ground-truth and detected boxes linked by `_same_row`."""
    links = [[j for j, box in enumerate(found) if _same_row(box, t)] for t in truth]
    unvisited, groups = set(range(len(truth))), []
    while unvisited:
        pending, truth_ids, found_ids = [unvisited.pop()], set(), set()
        while pending:
            i = pending.pop()
            truth_ids.add(i)
            for j in links[i]:
                if j not in found_ids:
                    found_ids.add(j)
                    pending += [k for k in unvisited if j in links[k]]
                    unvisited -= set(pending)
        groups.append((sorted(truth_ids), sorted(found_ids)))
    return groups


def score_text(detections: list[dict[str, Any]], truth: list[TruthLine], width: int,
               height: int) -> TextScore:
    """Compare DetectText's TextDetections for one image with its ground-truth lines."""
    lines = [(_pixel_box(d, width, height), d["DetectedText"])
             for d in detections if d["Type"] == "LINE"]
    words = [_pixel_box(d, width, height) for d in detections if d["Type"] == "WORD"]
    errors = characters = 0
    for truth_group, line_group in _row_groups([t.box for t in truth], [b for b, _ in lines]):
        truth_items = [(truth[i].box, truth[i].text) for i in truth_group]
        found_items = [lines[j] for j in line_group]
        readings = [(_joined(truth_items, key), _joined(found_items, key))
                    for key in _READING_ORDERS]
        if not readings[0][0].strip("*"):
            continue
        errors += min(Levenshtein.distance(expected, found) for expected, found in readings)
        characters += len(readings[0][0])
    on_truth = sum(1 for w in words if any(_inside_share(w, t.box) > 0.5 for t in truth))
    return TextScore(errors, characters, len(words), on_truth)
