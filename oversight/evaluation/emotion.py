"""How well Emotions reads expressions, per type, on pictures whose names say the expression.

    oversight evaluate emotion ../shared/data/faces/yalefaces/yalefaces \\
        ../shared/data/faces/face-api.js/examples/images \\
        ../shared/data/faces/insightface/cpp-package/inspireface/test_res/data/emotion

A picture's expression is a word of its file name: the extension of Yale's `subject01.happy`,
the stem of `happy.jpg` (EXPRESSION_WORDS). Pictures whose name says no expression are skipped
(Yale's sleepy, wink, glasses and lighting shots; face-api.js's portraits). The largest face of
each picture is read by each network alone and by their mean, which is what the service
returns; each gets a confusion matrix, the recall of every type, the accuracy, and the mean of
the per-type recalls (which weighs the few angry faces like the many happy ones).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..analysis import face_analyzer
from ..models.emotion import EMOTION_TYPES, NOT_MEASURED
from .datasets import IMAGE_SUFFIXES
from .embeddings import read_rgb
from .rate import Rate
from .report import Report, percent, rate_cell

SERVED = "mean"
# File-name words -> Rekognition's EmotionName (CALM is Rekognition's neutral face).
EXPRESSION_WORDS = {
    "happy": "HAPPY", "sad": "SAD", "surprised": "SURPRISED", "surprise": "SURPRISED",
    "normal": "CALM", "neutral": "CALM", "calm": "CALM", "angry": "ANGRY", "anger": "ANGRY",
    "disgusted": "DISGUSTED", "disgust": "DISGUSTED", "fearful": "FEAR", "fear": "FEAR",
}


def expression_of(path: Path) -> str | None:
    """The Rekognition type a file name states, if any."""
    word = path.stem if path.suffix.lower() in IMAGE_SUFFIXES else path.suffix.lstrip(".")
    return EXPRESSION_WORDS.get(word.lower())


def labelled_pictures(folders: list[Path]) -> list[tuple[Path, str]]:
    """(picture, expression) for every file directly inside `folders` whose name says one."""
    pictures = []
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not a folder")
        for path in sorted(folder.iterdir()):
            if path.is_file() and (expression := expression_of(path)):
                pictures.append((path, expression))
    if not pictures:
        raise ValueError("no picture is named for an expression "
                         f"({', '.join(sorted(EXPRESSION_WORDS))})")
    return pictures


def _scores(confusion: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-type recall and their mean from a true x predicted count matrix."""
    truth = confusion.sum(axis=1)
    recall = {name: Rate(int(confusion[i, i]), int(truth[i])).as_dict()
              for i, name in enumerate(EMOTION_TYPES) if truth[i]}
    return {
        "confusion": confusion.tolist(),
        "accuracy": Rate(int(np.trace(confusion)), int(truth.sum())).as_dict(),
        "recall": recall,
        "mean_recall": float(np.mean([r["rate"] for r in recall.values()])),
    }


def evaluate_emotion(folders: list[Path], progress: bool = True) -> Report:
    pictures = labelled_pictures(folders)
    analyzer = face_analyzer()
    index = {name: i for i, name in enumerate(EMOTION_TYPES)}
    confusion: dict[str, np.ndarray] = {}
    without_face: list[str] = []
    for path, expression in tqdm(pictures, desc="reading expressions", unit="image",
                                 disable=not progress):
        image = read_rgb(path)
        faces = analyzer.detect(image)
        if not faces:
            without_face.append(str(path))
            continue
        readings = analyzer.emotions_by_network(image, faces[0])
        readings[SERVED] = np.mean(list(readings.values()), axis=0)
        for name, probabilities in readings.items():
            matrix = confusion.setdefault(name, np.zeros((len(index),) * 2, int))
            matrix[index[expression], int(np.argmax(probabilities))] += 1

    classifiers = {name: _scores(matrix) for name, matrix in confusion.items()}
    result: dict[str, Any] = {
        "kind": "emotion",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "sources": [str(folder) for folder in folders],
            "images": len(pictures),
            "by_source": {str(folder): sum(p.parent == folder for p, _ in pictures)
                          for folder in folders},
            "by_expression": dict(Counter(expression for _, expression in pictures)),
            "images_without_face": without_face,
        },
        "types": list(EMOTION_TYPES),
        "not_measured": list(NOT_MEASURED),
        "served": SERVED,
        "classifiers": classifiers,
    }
    report = Report("Facial expressions (Emotions)", result)
    report.text(f"{len(pictures)} pictures named for an expression, "
                f"{len(without_face)} without a detected face. Rows: the expression the file "
                "name states; columns: the type read (most probable). "
                f"{', '.join(NOT_MEASURED)} is never read: no shipped network has the class.")
    report.table(*comparison_table(result))
    report.table(*confusion_table(result))
    return report


def comparison_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Each classifier's accuracy, mean recall and per-type recall, the served one marked."""
    types = list(result["classifiers"][result["served"]]["recall"])
    headers = ["classifier", "accuracy", "mean recall", *types]
    rows = []
    for name, scores in result["classifiers"].items():
        label = f"{name} (served)" if name == result["served"] else name
        rows.append([label, rate_cell(scores["accuracy"]), percent(scores["mean_recall"], 1),
                     *[f"{scores['recall'][t]['count']}/{scores['recall'][t]['total']}"
                       for t in types]])
    return headers, rows


def confusion_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The served classifier's confusion matrix, rows for the expressions present."""
    scores = result["classifiers"][result["served"]]
    types = result["types"]
    rows = [[f"**{types[i]}**", *map(str, counts)]
            for i, counts in enumerate(scores["confusion"]) if sum(counts)]
    return ["true \\ read", *types], rows
