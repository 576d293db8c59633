"""Demographic differentials: error rates per group and attribute accuracy per group."""

from __future__ import annotations

import numpy as np

from .datasets import SEVERAL_GROUPS
from .rate import Rate
from .scores import ErrorRates, error_rates

# Age bands for grouping; the upper bound of each band is exclusive.
AGE_BANDS: tuple[tuple[int, int], ...] = ((0, 18), (18, 30), (30, 45), (45, 60), (60, 200))


def age_band(age: float) -> str:
    for low, high in AGE_BANDS:
        if low <= age < high:
            return f"{low}+" if high >= 200 else f"{low}-{high - 1}"
    raise ValueError(f"age {age} is outside every band")


def within_group_pairs(
    similarity: np.ndarray, identities: np.ndarray, groups: np.ndarray, group: str
) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) scores of all pairs of distinct images that are both in `group`.

    NIST's demographic FMR compares impostors of the same group with each other: cross-group
    pairs would look different for reasons unrelated to the algorithm's bias.
    """
    members = np.flatnonzero(np.asarray(groups) == group)
    rows, cols = np.triu_indices(members.size, k=1)
    a, b = members[rows], members[cols]
    scores = similarity[a, b]
    same = np.asarray(identities)[a] == np.asarray(identities)[b]
    return scores[same], scores[~same]


def group_error_rates(
    similarity: np.ndarray, identities: np.ndarray, groups: np.ndarray, threshold: float
) -> dict[str, ErrorRates]:
    """FMR and FNMR per group at one threshold, from pairs within each group."""
    return {
        str(group): error_rates(*within_group_pairs(similarity, identities, groups, group),
                                threshold)
        for group in sorted(set(np.asarray(groups).tolist()))
    }


# A group enters the max/min FMR ratio only with at least this many impostor pairs: fewer
# cannot resolve even an FMR of 1e-2 (three expected false matches), so a group of a handful of
# people would decide the ratio by chance alone. Such groups are still reported, with intervals.
MIN_RATIO_PAIRS = 300


def fmr_ratio(rates: dict[str, ErrorRates], min_pairs: int = MIN_RATIO_PAIRS) -> float | None:
    """Highest group FMR over lowest (FRVT's differential) among groups with `min_pairs`
    impostor pairs; None when the lowest is zero or fewer than two groups qualify, because then
    the ratio is unbounded or unmeasured rather than small. The group of people with several
    labels is left out: its pairs mostly join people of different labels, a cross-group rate."""
    values = [r.fmr.value for group, r in rates.items()
              if r.fmr.value is not None and r.fmr.total >= min_pairs
              and group != SEVERAL_GROUPS]
    if len(values) < 2 or min(values) == 0:
        return None
    return max(values) / min(values)


def gender_accuracy(truth: list[str], predicted: list[str | None]) -> Rate:
    """Share of faces whose predicted gender equals the label (case-insensitive); a face the
    model could not analyse (None) counts as wrong."""
    correct = sum(1 for t, p in zip(truth, predicted, strict=True)
                  if p is not None and p.lower() == t.lower())
    return Rate(correct, len(truth))


def age_mae(truth: np.ndarray, predicted: np.ndarray) -> float | None:
    """Mean absolute error in years over the faces that have a prediction (non-NaN)."""
    truth, predicted = np.asarray(truth, float), np.asarray(predicted, float)
    measured = ~np.isnan(predicted)
    if not measured.any():
        return None
    return float(np.mean(np.abs(truth[measured] - predicted[measured])))


# Ages a key's policy might refuse 1:N searches below (governance/minors.py), each measured.
SCREENING_AGES: tuple[int, ...] = (18, 21, 25)
ADULT_AGE = 18


def minor_screening(truth: np.ndarray, predicted: np.ndarray) -> dict[str, object]:
    """How well the estimated age (NaN: no face analysed, left out) tells children from adults:
    the age error of under-18s, and per screening age the share of under-18s estimated at or
    above it (searched although a minor) and of adults estimated below it (refused)."""
    truth, predicted = np.asarray(truth, float), np.asarray(predicted, float)
    measured = ~np.isnan(predicted)
    minors, adults = measured & (truth < ADULT_AGE), measured & (truth >= ADULT_AGE)
    errors = predicted[minors] - truth[minors]
    return {
        "minors": int(minors.sum()), "adults": int(adults.sum()),
        "minor_age_mae": float(np.mean(np.abs(errors))) if errors.size else None,
        "minor_age_bias": float(np.mean(errors)) if errors.size else None,
        "at_age": {
            str(age): {
                "minors_passed": Rate(int(np.count_nonzero(minors & (predicted >= age))),
                                      int(minors.sum())).with_interval(),
                "adults_refused": Rate(int(np.count_nonzero(adults & (predicted < age))),
                                       int(adults.sum())).with_interval(),
            } for age in SCREENING_AGES},
    }
