"""Group-agnostic calibrations compared on identity-labelled faces with group labels.

    oversight evaluate calibration ../shared/data/faces/lfw-devtrain \
        --labels ../shared/data/faces/lfw-devtrain/race.csv

For each matcher (fused, SFace) and method (global; FairCal-style clusters; cohort Z-norm) the
faces' Similarity is *cross-fitted*: people are split into folds, and a pair whose people are
in folds i and j is scored by a calibration fitted on the other folds only, so no pair is
scored by a calibration that saw either person (the group labels are never used to fit). From
those scores: 10-fold accuracy on the folder's pairs file, FMR and FNMR over all pairs at each
Similarity, and FMR per group inside the group with the max/min ratio (as in demographics).

Cohort Z-norm (symmetric, adaptive: each face's mean and spread of its top-N cosines with a
cohort of calibration faces) is compared but cannot be shipped: a search would have to score
every candidate face against the whole cohort, or store per-face statistics that go stale
whenever the calibration changes. The cluster method needs only the face's nearest centroid.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..analysis import EMBEDDING_MODEL
from ..analysis.calibration import MATCHERS, Matcher, matcher_vectors
from ..analysis.similarity import similarity_for_decades
from .calibration_fit import (
    DECADES,
    DEFAULT_CLUSTERS,
    fit_clusters,
    fit_global,
    impostor_pairs,
    quantile_anchors,
)
from .datasets import read_labelled_faces, read_pairs
from .demographics import DEMOGRAPHIC_SIMILARITIES
from .embeddings import embed_files
from .groups import MIN_RATIO_PAIRS, fmr_ratio, group_error_rates
from .report import Report, markdown_table, percent, rate_ci_cell
from .scores import error_rates, kfold_accuracy

COHORT_TOP = 100
# A method may replace the global calibration only if it keeps these (see `acceptable`).
TARGET_SIMILARITY = 80.0
TARGET_FMR = 1e-5
MIN_ACCURACY = 0.996


class PairScorer(Protocol):
    def similarity_matrix(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class CohortNorm:
    """Symmetric adaptive Z-norm: a pair's cosine minus each face's mean top-N cohort cosine,
    over that face's spread, averaged over the two faces; then one global decades map."""

    cohort: np.ndarray
    anchors: np.ndarray
    decades: np.ndarray

    @staticmethod
    def statistics(vectors: np.ndarray, cohort: np.ndarray,
                   same: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        scores = vectors @ cohort.T
        if same is not None:  # a calibration face is not its own (or its person's) impostor
            scores = np.where(same, -np.inf, scores)
        top = -np.sort(-scores, axis=1)[:, :COHORT_TOP]
        return top.mean(axis=1), np.maximum(top.std(axis=1), 1e-6)

    def normalised(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean_a, spread_a = self.statistics(a, self.cohort)
        mean_b, spread_b = self.statistics(b, self.cohort)
        cosines = a @ b.T
        return 0.5 * ((cosines - mean_a[:, None]) / spread_a[:, None]
                      + (cosines - mean_b[None, :]) / spread_b[None, :])

    def similarity_matrix(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        # Normalised scores have no natural top: past the last anchor they stay at its decade
        # (Similarity 99), which is beyond every operating point compared here.
        b = a if b is None else b
        return similarity_for_decades(np.interp(self.normalised(a, b), self.anchors,
                                                self.decades))


def fit_cohort(vectors: np.ndarray, identities: np.ndarray) -> CohortNorm:
    same = identities[:, None] == identities[None, :]
    mean, spread = CohortNorm.statistics(vectors, vectors, same)
    cosines, first, second = impostor_pairs(vectors, identities)
    normalised = 0.5 * ((cosines - mean[first]) / spread[first]
                        + (cosines - mean[second]) / spread[second])
    # Scores below the first anchor (-1) map to decade 0, like every other score of that kind.
    return CohortNorm(vectors, quantile_anchors(normalised), DECADES)


Fitter = Callable[[Matcher, np.ndarray, np.ndarray], PairScorer]


def fitters(clusters: int) -> dict[str, Fitter]:
    return {
        "global": fit_global,
        f"clusters (k={clusters})": lambda m, v, i: fit_clusters(m, v, i, clusters),
        f"cohort Z-norm (top {COHORT_TOP})": lambda m, v, i: fit_cohort(v, i),
    }


def person_folds(identities: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold of each face: people (not images) are dealt into folds at random."""
    people = np.unique(identities)
    order = np.random.default_rng(seed).permutation(len(people))
    fold_of = dict(zip(people.tolist(), (order % folds).tolist(), strict=True))
    return np.array([fold_of[i] for i in identities.tolist()])


def cross_fitted(vectors: np.ndarray, identities: np.ndarray, folds: np.ndarray,
                 fit: Callable[[np.ndarray, np.ndarray], PairScorer]) -> np.ndarray:
    """Similarity of every pair, each from a calibration fitted without either face's fold."""
    similarity = np.zeros((len(vectors), len(vectors)))
    for i, j in itertools.combinations_with_replacement(np.unique(folds).tolist(), 2):
        training = (folds != i) & (folds != j)
        scorer = fit(vectors[training], identities[training])
        rows, cols = np.flatnonzero(folds == i), np.flatnonzero(folds == j)
        block = scorer.similarity_matrix(vectors[rows], vectors[cols])
        similarity[np.ix_(rows, cols)] = block
        similarity[np.ix_(cols, rows)] = block.T
    return similarity


def _measure(similarity: np.ndarray, identities: np.ndarray, groups: np.ndarray,
             pair_index: tuple[np.ndarray, np.ndarray], pairs_same: np.ndarray,
             pair_folds: np.ndarray) -> dict[str, Any]:
    first, second = np.triu_indices(len(identities), k=1)
    scores = similarity[first, second]
    same = identities[first] == identities[second]
    labelled = groups != ""
    result: dict[str, Any] = {
        "accuracy": kfold_accuracy(similarity[pair_index], pairs_same, pair_folds).mean,
        "at_similarity": {}}
    for threshold in DEMOGRAPHIC_SIMILARITIES:
        overall = error_rates(scores[same], scores[~same], threshold)
        rates = group_error_rates(similarity[np.ix_(labelled, labelled)],
                                  identities[labelled], groups[labelled], threshold)
        result["at_similarity"][f"{threshold:g}"] = {
            "fmr": overall.fmr.with_interval(), "fnmr": overall.fnmr.with_interval(),
            "groups": {g: r.fmr.with_interval() for g, r in rates.items()},
            "fmr_ratio": fmr_ratio(rates)}
    return result


def acceptable(entry: dict[str, Any]) -> bool:
    """Keeps the calibration (FMR at Similarity 80 consistent with 1e-5: the interval's lower
    end at or below it) and LFW dev accuracy >= 99.6 %."""
    at_target = entry["at_similarity"][f"{TARGET_SIMILARITY:g}"]["fmr"]
    return at_target["low"] <= TARGET_FMR and entry["accuracy"] >= MIN_ACCURACY


def evaluate_calibrations(root: Path, labels: Path, folds: int = 5,
                          clusters: int = DEFAULT_CLUSTERS, progress: bool = True) -> Report:
    rows = read_labelled_faces(root / "images", labels)
    columns = [c for c in (rows[0] if rows else {}) if c not in {"path", "identity"}]
    if not columns:
        raise ValueError(f"{labels} adds no group column to the images of {root}")
    column = columns[0]
    paths = [Path(row["path"]) for row in rows]
    found = embed_files(paths, progress=progress, choice="central")
    kept = [i for i, path in enumerate(paths) if found[path] is not None]
    stored = np.stack([found[paths[i]] for i in kept]).astype(np.float32)
    identities = np.array([rows[i]["identity"] for i in kept])
    groups = np.array([rows[i][column] for i in kept])
    pairs = read_pairs(root / "pairsDevTrain.txt", root / "images")
    position = {paths[i].resolve(): n for n, i in enumerate(kept)}
    left = [position.get(path.resolve()) for path in pairs.left]
    right = [position.get(path.resolve()) for path in pairs.right]
    usable = np.array([a is not None and b is not None for a, b in zip(left, right, strict=True)])
    if not usable.any():
        raise ValueError(f"no pair of {root / 'pairsDevTrain.txt'} has two faces among the images")
    pair_index = (np.array([a for a, ok in zip(left, usable, strict=True) if ok], np.int64),
                  np.array([b for b, ok in zip(right, usable, strict=True) if ok], np.int64))
    fold_of = person_folds(identities, folds)
    table: dict[str, dict[str, Any]] = {}
    for matcher in MATCHERS:
        vectors = matcher_vectors(stored, matcher)
        for method, fit in fitters(clusters).items():
            similarity = cross_fitted(vectors, identities, fold_of,
                                      lambda v, i, fit=fit, matcher=matcher: fit(matcher, v, i))
            entry = _measure(similarity, identities, groups, pair_index, pairs.same[usable],
                             pairs.folds[usable])
            entry["acceptable"] = acceptable(entry)
            table.setdefault(matcher, {})[method] = entry
    result = {
        "kind": "calibration",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": EMBEDDING_MODEL,
        "data": {"csv": str(root), "labels": str(labels), "group_column": column,
                 "images": len(kept), "people": len(set(identities.tolist())),
                 "folds": folds, "clusters": clusters, "identity_labels": True},
        "min_ratio_pairs": MIN_RATIO_PAIRS,
        "methods": table,
    }
    report = Report("Calibration options", result)
    report.text(_introduction(result))
    report.table(*comparison_table(result))
    for similarity in _GROUP_TABLES:
        report.text(f"Group FMR at Similarity {similarity} (95 % intervals):")
        report.table(*group_table(result, similarity))
    return report


def comparison_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): per matcher and method, accuracy, overall FMR/FNMR at 80 and the
    group ratio at each Similarity."""
    similarities = list(next(iter(next(iter(result["methods"].values())).values()))
                        ["at_similarity"])
    headers = ["matcher", "method", "LFW dev accuracy", "FMR at 80 (all pairs)",
               "FNMR at 80", *[f"group FMR ratio at {s}" for s in similarities],
               "keeps calibration and accuracy"]
    body = []
    for matcher, methods in result["methods"].items():
        for method, entry in methods.items():
            at_80 = entry["at_similarity"][f"{TARGET_SIMILARITY:g}"]
            body.append([matcher, method, percent(entry["accuracy"]), rate_ci_cell(at_80["fmr"]),
                         percent(at_80["fnmr"]["rate"]),
                         *["undefined" if entry["at_similarity"][s]["fmr_ratio"] is None
                           else f"{entry['at_similarity'][s]['fmr_ratio']:.2f}"
                           for s in similarities],
                         "yes" if entry["acceptable"] else "no"])
    return headers, body


def group_table(result: dict[str, Any], similarity: str) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): each group's FMR at one Similarity under every matcher and method."""
    first = next(iter(next(iter(result["methods"].values())).values()))
    groups = list(first["at_similarity"][similarity]["groups"])
    headers = ["matcher", "method", *groups]
    body = [[matcher, method, *[rate_ci_cell(entry["at_similarity"][similarity]["groups"][g])
                                for g in groups]]
            for matcher, methods in result["methods"].items()
            for method, entry in methods.items()]
    return headers, body


# The Similarities whose group FMRs are shown in full: the only ones where the smaller groups
# have false matches to count.
_GROUP_TABLES = ("32", "48")


def _introduction(result: dict[str, Any]) -> str:
    data = result["data"]
    return (f"Cross-fitted over {data['folds']} folds of people ({data['people']} people, "
            f"{data['images']} images of `{data['csv']}`; groups from `{data['labels']}`, used "
            "only to measure). Group FMR ratios count groups with at least "
            f"{result['min_ratio_pairs']} impostor pairs, as in the demographic tables.")


def comparison_lines(result: dict[str, Any]) -> list[str]:
    """The comparison as Markdown lines (the model card)."""
    lines = [_introduction(result), "", *markdown_table(*comparison_table(result)), ""]
    for similarity in _GROUP_TABLES:
        lines += [f"Group FMR at Similarity {similarity} (95 % intervals):", "",
                  *markdown_table(*group_table(result, similarity)), ""]
    return lines
