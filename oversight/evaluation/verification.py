"""1:1 verification on an LFW-style pairs file (View 1 or View 2), 10-fold protocol.

Besides the protocol's accuracy, the same images give every same-person and every
different-person pair ("all pairs"): thousands of times more impostors, which is what a claim
about Similarity 99 or a FAR of 1e-4 needs to be measured at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import EMBEDDING_MODEL
from . import plots
from .datasets import read_pairs
from .embeddings import embed_files
from .groups import within_group_pairs
from .operating import SIMILARITY_THRESHOLDS, pair_similarities, similarity_matrix
from .report import Report, percent, rate_cell
from .scores import error_rates, kfold_accuracy, roc, tar_at_far

FARS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5)
# Score given to a pair where a face was not found: below every Similarity, always a reject.
_NO_FACE = -1.0


def _operating_points(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, Any]:
    at_similarity = {}
    for similarity in SIMILARITY_THRESHOLDS:
        rates = error_rates(genuine, impostor, similarity)
        at_similarity[f"{similarity:g}"] = {
            "fmr": rates.fmr.as_dict(),
            "fnmr": rates.fnmr.as_dict(),
        }
    return {
        "tar_at_far": {f"{far:g}": tar_at_far(genuine, impostor, far) for far in FARS},
        "at_similarity": at_similarity,
    }


def _all_pairs(vectors: dict[Path, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor Similarity of every pair of images with a face (identity =
    folder)."""
    found = [(path, vector) for path, vector in vectors.items() if vector is not None]
    matrix = np.stack([vector for _, vector in found])
    identities = np.array([path.parent.name for path, _ in found])
    return within_group_pairs(similarity_matrix(matrix, matrix), identities,
                              np.zeros(len(found)), 0)


def evaluate_verification(pairs_file: Path, images: Path, progress: bool = True) -> Report:
    pairs = read_pairs(pairs_file, images)
    missing = [p for p in {*pairs.left, *pairs.right} if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} images of the pairs file are missing, e.g. "
                                f"{missing[0]}")
    # LFW crops centre the named person; another face may be larger (calibration does the same).
    vectors = embed_files([*pairs.left, *pairs.right], progress=progress, choice="central")
    faced = np.array([vectors[a] is not None and vectors[b] is not None
                      for a, b in zip(pairs.left, pairs.right, strict=True)])
    scores = np.full(len(pairs.left), _NO_FACE)
    if faced.any():
        scores[faced] = pair_similarities(
            np.stack([vectors[a] for a, ok in zip(pairs.left, faced, strict=True) if ok]),
            np.stack([vectors[b] for b, ok in zip(pairs.right, faced, strict=True) if ok]))
    genuine, impostor = scores[pairs.same], scores[~pairs.same]
    folds = kfold_accuracy(scores, pairs.same, pairs.folds)
    all_genuine, all_impostor = _all_pairs(vectors)
    faceless = sorted(str(p) for p, v in vectors.items() if v is None)
    result = {
        "kind": "verification",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": EMBEDDING_MODEL,
        "data": {
            "pairs_file": str(pairs_file), "images_folder": str(images), "format": pairs.view,
            "pairs": int(scores.size), "genuine_pairs": int(genuine.size),
            "impostor_pairs": int(impostor.size), "folds": int(np.unique(pairs.folds).size),
            "images_used": len(vectors), "images_without_face": faceless,
            "pairs_without_face": int(np.count_nonzero(~faced)),
        },
        "accuracy": {
            "mean": folds.mean, "std": folds.std, "per_fold": folds.accuracies,
            "thresholds_similarity": folds.thresholds,
        },
        "protocol_pairs": _operating_points(genuine, impostor),
        "all_pairs": {
            "genuine_pairs": int(all_genuine.size), "impostor_pairs": int(all_impostor.size),
            **_operating_points(all_genuine, all_impostor),
        },
    }
    report = Report(f"Verification: {pairs_file.name}", result)
    _describe(report, result)
    report.figure("roc_det", plots.roc_and_det(roc(genuine, impostor), "protocol pairs"),
                  f"ROC and DET on the {scores.size} protocol pairs")
    report.figure("roc_det_all_pairs",
                  plots.roc_and_det(roc(all_genuine, all_impostor), "all pairs"),
                  f"ROC and DET on all {all_genuine.size} genuine and {all_impostor.size} "
                  "impostor pairs of the same images")
    report.figure("histogram",
                  plots.score_histogram(genuine, impostor,
                                        list(SIMILARITY_THRESHOLDS)),
                  "Similarity of the protocol pairs; dotted lines at 80, 90, 95, 99")
    return report


def _describe(report: Report, result: dict[str, Any]) -> None:
    data, accuracy = result["data"], result["accuracy"]
    report.text(
        f"Embedding model `{result['embedding_model']}` on {data['pairs']} pairs "
        f"({data['genuine_pairs']} same-person, {data['impostor_pairs']} different-person) of "
        f"`{data['pairs_file']}` ({data['format']}), {data['folds']}-fold cross-validation: "
        "each fold is scored with the accuracy-maximising threshold of the other folds. "
        f"{len(data['images_without_face'])} of {data['images_used']} images had no detected "
        f"face; their {data['pairs_without_face']} pairs count as rejected.")
    report.text(f"Accuracy: {percent(accuracy['mean'])} ± {percent(accuracy['std'])}")
    report.table(["fold", "accuracy", "threshold (Similarity)"], [
        [i + 1, percent(a), f"{t:.2f}"]
        for i, (a, t) in enumerate(zip(accuracy["per_fold"], accuracy["thresholds_similarity"],
                                       strict=True))])
    for key, label in (("protocol_pairs", "the protocol pairs"), ("all_pairs", "all pairs")):
        points = result[key]
        report.text(f"Operating points on {label}:")
        report.table(["Similarity", "FMR", "FNMR"], [
            [s, rate_cell(p["fmr"]), rate_cell(p["fnmr"])]
            for s, p in points["at_similarity"].items()])
        report.table(["FAR", "TAR"], [
            [far, "not measurable (too few impostor pairs)" if tar is None else percent(tar)]
            for far, tar in points["tar_at_far"].items()])
