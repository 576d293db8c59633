"""1:1 verification metrics over genuine (same person) and impostor (different people) scores.

Scores are "higher means more alike" (cosine or Similarity); a pair is accepted when its score
is >= the threshold, the same rule Rekognition applies to SimilarityThreshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rate import Rate


@dataclass(frozen=True)
class ErrorRates:
    fmr: Rate  # impostor pairs accepted
    fnmr: Rate  # genuine pairs rejected


def error_rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> ErrorRates:
    """False match and false non-match rates when accepting scores >= threshold."""
    genuine, impostor = np.asarray(genuine), np.asarray(impostor)
    return ErrorRates(
        fmr=Rate(int(np.count_nonzero(impostor >= threshold)), impostor.size),
        fnmr=Rate(int(np.count_nonzero(genuine < threshold)), genuine.size),
    )


@dataclass(frozen=True)
class Roc:
    """Operating points, one per distinct score, from the strictest threshold down."""

    thresholds: np.ndarray
    fmr: np.ndarray
    fnmr: np.ndarray

    @property
    def tar(self) -> np.ndarray:
        return 1.0 - self.fnmr


def roc(genuine: np.ndarray, impostor: np.ndarray) -> Roc:
    """ROC / DET curve: FMR and FNMR at every distinct score used as the threshold."""
    genuine = np.sort(np.asarray(genuine, dtype=np.float64))
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))
    thresholds = np.unique(np.concatenate([genuine, impostor]))[::-1]
    # searchsorted "left" counts scores strictly below each threshold.
    fmr = 1.0 - np.searchsorted(impostor, thresholds, side="left") / max(impostor.size, 1)
    fnmr = np.searchsorted(genuine, thresholds, side="left") / max(genuine.size, 1)
    return Roc(thresholds=thresholds, fmr=fmr, fnmr=fnmr)


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float | None:
    """True accept rate at the loosest threshold whose false accept rate is <= far.

    None when there are fewer than 1/far impostor pairs: such a FAR cannot be told from zero.
    """
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    if impostor.size == 0 or impostor.size * far < 1:
        return None
    allowed = int(np.floor(far * impostor.size + 1e-9))
    if allowed >= impostor.size:
        return 1.0
    # Accepting only scores above the (allowed+1)-th highest impostor keeps `allowed` false
    # accepts (ties at that score are rejected with it).
    return float(np.mean(np.asarray(genuine) > impostor[allowed]))


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the highest accuracy on these labelled pairs (midpoint between scores)."""
    order = np.argsort(scores, kind="stable")
    ordered, labels = np.asarray(scores, dtype=np.float64)[order], np.asarray(same, bool)[order]
    # Cutting before position i accepts ordered[i:]: correct = negatives below + positives above.
    negatives_below = np.concatenate([[0], np.cumsum(~labels)])
    positives_above = np.concatenate([np.cumsum(labels[::-1])[::-1], [0]])
    correct = negatives_below + positives_above
    # A cut is only real between two different scores (or outside them all).
    valid = np.ones(ordered.size + 1, bool)
    valid[1:-1] = ordered[1:] > ordered[:-1]
    cut = int(np.argmax(np.where(valid, correct, -1)))
    if cut == 0:
        return float(ordered[0]) - 1e-6
    if cut == ordered.size:
        return float(ordered[-1]) + 1e-6
    return float((ordered[cut - 1] + ordered[cut]) / 2)


@dataclass(frozen=True)
class KFoldAccuracy:
    accuracies: list[float]
    thresholds: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies))


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> KFoldAccuracy:
    """LFW protocol: for each fold, pick the threshold on the other folds, score this one."""
    scores, same, folds = np.asarray(scores), np.asarray(same, bool), np.asarray(folds)
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        held_out = folds == fold
        threshold = best_threshold(scores[~held_out], same[~held_out])
        predicted = scores[held_out] >= threshold
        accuracies.append(float(np.mean(predicted == same[held_out])))
        thresholds.append(threshold)
    return KFoldAccuracy(accuracies=accuracies, thresholds=thresholds)
