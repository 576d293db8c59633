"""How well the geometric Smile reads smiles, on a set whose file names say the expression.

    python -m oversight.evaluation.smile ../shared/data/faces/yalefaces/yalefaces

The Yale faces name each picture `subjectNN.<condition>`; `happy` is the smile, every other
condition (normal, sad, sleepy, surprised, wink, glasses, lighting) is not. Prints the
true-positive and false-positive rates at the shipped threshold (`geometry.SMILE_RATIO`) and
the accuracy of a threshold chosen leaving each subject out, which says whether the shipped
threshold was merely fitted to these 15 people.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis import face_analyzer, geometry
from .embeddings import read_rgb

SMILE_CONDITION = "happy"


@dataclass(frozen=True)
class SmileScores:
    subjects: list[str]
    smiling: np.ndarray  # bool per picture
    scores: np.ndarray  # geometry.smile_score per picture


def score_pictures(folder: Path) -> SmileScores:
    """Smile scores of the largest face of every `subject.condition` picture in `folder`."""
    analyzer = face_analyzer()
    subjects, smiling, scores = [], [], []
    for path in sorted(p for p in folder.iterdir() if "." in p.name):
        image = read_rgb(path)
        faces = analyzer.detect(image)
        if not faces:
            continue
        mesh = analyzer.mesh(image, faces[0])
        subject, condition = path.name.split(".", 1)
        subjects.append(subject)
        smiling.append(condition == SMILE_CONDITION)
        scores.append(geometry.smile_score(mesh))
    return SmileScores(subjects, np.array(smiling), np.array(scores))


def _best_threshold(scores: np.ndarray, smiling: np.ndarray) -> float:
    candidates = np.unique(scores)
    accuracy = [np.mean((scores >= t) == smiling) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def leave_one_subject_out_accuracy(result: SmileScores) -> float:
    subjects = np.array(result.subjects)
    correct = 0
    for subject in np.unique(subjects):
        held = subjects == subject
        threshold = _best_threshold(result.scores[~held], result.smiling[~held])
        correct += int(np.sum((result.scores[held] >= threshold) == result.smiling[held]))
    return correct / len(subjects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    result = score_pictures(parser.parse_args().folder)
    said = result.scores >= geometry.SMILE_RATIO
    smiles, others = result.smiling, ~result.smiling
    print(f"{len(result.scores)} faces, {smiles.sum()} smiling, threshold {geometry.SMILE_RATIO}")
    print(
        f"smiles read as Smile: {said[smiles].sum()}/{smiles.sum()} (TPR {said[smiles].mean():.3f})"
    )
    print(
        f"others read as Smile: {said[others].sum()}/{others.sum()} (FPR {said[others].mean():.3f})"
    )
    print(f"accuracy at the shipped threshold: {np.mean(said == smiles):.3f}")
    print(
        f"accuracy, threshold chosen leaving each subject out: "
        f"{leave_one_subject_out_accuracy(result):.3f}"
    )


if __name__ == "__main__":
    main()
