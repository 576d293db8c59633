"""DetectLabels, DetectText and DetectModerationLabels: latency and accuracy on real photos.

    .venv/bin/python bench/labels.py [--repeat 5] [--receipts 20]

Latency: each operation through `operations.call` (the handler path the API serves, without
HTTP), wall-time median and p90 and CPU-time median over --repeat runs per photo after one
warm-up, with OVERSIGHT_INFERENCE_THREADS as configured (2 on a 2-core machine).
Accuracy: COCO8 person boxes matched by DetectLabels' Person instances (IoU >= 0.5, VOC greedy
matching), and the character error rate of DetectText lines on the first --receipts SROIE
receipts (oversight/evaluation/text.py says how lines are compared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from oversight import operations
from oversight.analysis.text import WordFilter, detect_text
from oversight.config import settings
from oversight.evaluation.boxes import match
from oversight.evaluation.text import read_sroie_boxes, score_text
from oversight.images import load_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PHOTOS = [SHARED / "labels" / "darknet" / "data" / name
          for name in ("dog.jpg", "horses.jpg", "person.jpg", "eagle.jpg")]
COCO8 = SHARED / "labels" / "coco8"
SROIE = SHARED / "ocr" / "sroie-dev"
# Latency on a few receipts: their line counts differ (29 to 62 lines), and so does the time.
RECEIPTS = sorted((SROIE / "img").glob("*.jpg"))[:5]
PERSON_CLASS = 0


def _timed(operation: str, request: dict[str, Any], repeat: int) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds of this process) per call, after one warm-up call."""
    operations.call(operation, request)  # warm-up: model loading is not latency
    times = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        operations.call(operation, request)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def latency(repeat: int) -> None:
    cases = [
        ("DetectLabels", {}, PHOTOS),
        ("DetectLabels", {"Features": ["IMAGE_PROPERTIES"]}, PHOTOS),
        ("DetectModerationLabels", {}, PHOTOS),
        ("DetectText", {}, RECEIPTS),
    ]
    # CPU time (all threads) stays meaningful when other work shares the cores; wall time is
    # what a caller waits.
    print(f"latency, {settings().inference_threads} inference threads, {repeat} runs per image, "
          f"load average {os.getloadavg()[0]:.1f}")
    for operation, extra, photos in cases:
        times = []
        for photo in photos:
            times += _timed(operation, {"Image": {"Bytes": photo.read_bytes()}, **extra}, repeat)
        wall = [w for w, _ in times]
        cpu = [c for _, c in times]
        label = operation + (" (IMAGE_PROPERTIES)" if extra else "")
        print(f"  {label:38s} wall median {statistics.median(wall) * 1000:6.0f} ms  "
              f"p90 {np.percentile(wall, 90) * 1000:6.0f} ms   CPU median "
              f"{statistics.median(cpu) * 1000:6.0f} ms   ({len(photos)} images)")


def _coco_people(label_file: Path, width: int, height: int) -> np.ndarray:
    boxes = []
    for row in label_file.read_text().splitlines():
        cls, cx, cy, w, h = (float(v) for v in row.split())
        if int(cls) == PERSON_CLASS:
            boxes.append(((cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height))
    return np.array(boxes).reshape(-1, 4)


def people() -> None:
    truth_total = matched = detected = large_total = large_matched = 0
    for photo in sorted((COCO8 / "images").glob("*/*.jpg")):
        image = load_image(photo)
        label_file = COCO8 / "labels" / photo.parent.name / (photo.stem + ".txt")
        truth = _coco_people(label_file, image.width, image.height)
        response = operations.call("DetectLabels", {"Image": {"Bytes": photo.read_bytes()},
                                                    "MinConfidence": 0})
        person = next((lb for lb in response["Labels"] if lb["Name"] == "Person"), None)
        boxes = [(i["BoundingBox"], i["Confidence"]) for i in (person or {}).get("Instances", [])]
        found = np.array([(b["Left"] * image.width, b["Top"] * image.height,
                           b["Width"] * image.width, b["Height"] * image.height)
                          for b, _ in boxes]).reshape(-1, 4)
        pairs = match(truth, found, np.array([c for _, c in boxes])) if len(truth) else []
        large = {i for i, box in enumerate(truth) if box[3] >= 0.1 * image.height}
        truth_total += len(truth)
        matched += len(pairs)
        detected += len(found)
        large_total += len(large)
        large_matched += sum(1 for _, t, _ in pairs if t in large)
    print(f"COCO8 person instances: {matched}/{truth_total} true boxes matched at IoU >= 0.5 "
          f"({large_matched}/{large_total} of people at least 10% of the image height); "
          f"{detected - matched} of {detected} detections match no person")


def receipts(count: int) -> None:
    errors = characters = words = on_truth = 0
    for photo in sorted((SROIE / "img").glob("*.jpg"))[:count]:
        image = load_image(photo)
        # Uncapped words and no confidence filter: the model's reading of the whole receipt.
        found = detect_text(image, WordFilter(min_confidence=0.0), max_words=10**6)
        score = score_text(found, read_sroie_boxes(SROIE / "box" / (photo.stem + ".csv")),
                           image.width, image.height)
        errors, characters = errors + score.errors, characters + score.characters
        words, on_truth = words + score.words, on_truth + score.words_on_truth
        print(f"  {photo.name}: CER {score.cer:.3f}", flush=True)
    print(f"SROIE dev, {count} receipts: line CER {errors / characters:.4f} "
          f"({errors} edits / {characters} characters); "
          f"{on_truth}/{words} words lie inside a ground-truth line box")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--receipts", type=int, default=20)
    args = parser.parse_args()
    latency(args.repeat)
    people()
    if args.receipts:
        receipts(args.receipts)


if __name__ == "__main__":
    main()
