"""Face detection against hand-drawn boxes: recall and precision at an IoU threshold.

Annotators draw boxes of different extents (dlib's are tight squares from brows to lip, the
detector's include forehead and chin), so the mean IoU of the matches is reported as well: a
low one says the miss is about box convention, not about faces left unfound.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..analysis import face_analyzer
from .boxes import match
from .datasets import read_boxes
from .embeddings import read_rgb
from .rate import Rate
from .report import Report, rate_cell


def evaluate_detection(csv_file: Path, min_iou: float = 0.5, progress: bool = True) -> Report:
    truth = read_boxes(csv_file)
    analyzer = face_analyzer()
    true_positives = detections = 0
    overlaps: list[float] = []
    per_image = []
    for path, boxes in tqdm(truth.items(), desc="detecting faces", unit="image",
                            disable=not progress):
        faces = analyzer.detect(read_rgb(path))
        found = np.array([face.box for face in faces]).reshape(-1, 4)
        matches = match(boxes, found, np.array([face.score for face in faces]), min_iou)
        true_positives += len(matches)
        detections += len(faces)
        overlaps += [overlap for _, _, overlap in matches]
        per_image.append({"image": str(path), "true_faces": len(boxes), "detected": len(faces),
                          "matched": len(matches)})
    total_truth = sum(len(boxes) for boxes in truth.values())
    result: dict[str, Any] = {
        "kind": "detection",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {"csv": str(csv_file), "images": len(truth), "true_faces": total_truth},
        "min_iou": min_iou,
        "recall": Rate(true_positives, total_truth).as_dict(),
        "precision": Rate(true_positives, detections).as_dict(),
        "mean_matched_iou": float(np.mean(overlaps)) if overlaps else None,
        "per_image": per_image,
    }
    report = Report("Face detection", result)
    report.text(f"{len(truth)} images with {total_truth} hand-drawn face boxes from "
                f"`{csv_file}`. A detection counts when its IoU with a still unmatched true box "
                f"is at least {min_iou:g} (PASCAL VOC greedy matching, most confident first).")
    report.table(["recall", "precision", "mean IoU of matches"], [[
        rate_cell(result["recall"]), rate_cell(result["precision"]),
        "n/a" if result["mean_matched_iou"] is None else f"{result['mean_matched_iou']:.3f}"]])
    report.table(["image", "true faces", "detected", "matched"],
                 [[Path(p["image"]).name, p["true_faces"], p["detected"], p["matched"]]
                  for p in per_image])
    return report
