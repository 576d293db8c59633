"""Evaluation metrics on small synthetic score sets whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from oversight.boxes import iou
from oversight.evaluation.boxes import match
from oversight.evaluation.groups import (
    age_band,
    age_mae,
    fmr_ratio,
    gender_accuracy,
    group_error_rates,
    minor_screening,
)
from oversight.evaluation.open_set import fnir, fpir, rank1
from oversight.evaluation.rate import Rate
from oversight.evaluation.report import rate_cell, rate_ci_cell
from oversight.evaluation.scores import (
    best_threshold,
    error_rates,
    kfold_accuracy,
    roc,
    tar_at_far,
)

GENUINE = np.array([0.9, 0.8, 0.7, 0.4])
IMPOSTOR = np.array([0.1, 0.2, 0.3, 0.5, 0.75])


def test_error_rates_count_at_and_above_threshold_as_a_match() -> None:
    rates = error_rates(GENUINE, IMPOSTOR, 0.7)
    assert (rates.fmr.count, rates.fmr.total) == (1, 5)  # only 0.75
    assert (rates.fnmr.count, rates.fnmr.total) == (1, 4)  # only 0.4
    assert rates.fmr.value == pytest.approx(0.2)


def test_roc_walks_every_distinct_score() -> None:
    curve = roc(GENUINE, IMPOSTOR)
    assert curve.thresholds[0] == 0.9 and curve.thresholds[-1] == 0.1
    at = {float(t): (f, n) for t, f, n in zip(curve.thresholds, curve.fmr, curve.fnmr,
                                              strict=True)}
    assert at[0.75] == pytest.approx((0.2, 0.5))
    assert at[0.4] == pytest.approx((0.4, 0.0))
    assert at[0.1] == pytest.approx((1.0, 0.0))
    assert np.all(np.diff(curve.fmr) >= 0) and np.all(np.diff(curve.tar) >= 0)


def test_tar_at_far_uses_the_loosest_threshold_within_the_far() -> None:
    impostor = np.arange(100) / 100  # 0.00 .. 0.99
    genuine = np.array([0.985, 0.975, 0.5, 0.995])
    # FAR 1e-2 allows one false accept: accept > 0.98 -> 2 of 4 genuine.
    assert tar_at_far(genuine, impostor, 1e-2) == pytest.approx(0.5)
    # FAR 2e-2 allows two: accept > 0.97 -> 3 of 4.
    assert tar_at_far(genuine, impostor, 2e-2) == pytest.approx(0.75)
    # 100 impostor pairs cannot resolve a FAR of 1e-3.
    assert tar_at_far(genuine, impostor, 1e-3) is None


def test_best_threshold_separates_perfectly_separable_scores() -> None:
    scores = np.array([0.1, 0.2, 0.6, 0.9])
    same = np.array([False, False, True, True])
    assert best_threshold(scores, same) == pytest.approx(0.4)
    # Ties are never split: a cut only falls between different scores.
    assert best_threshold(np.array([0.5, 0.5]), np.array([True, False])) != 0.5


def test_kfold_accuracy_picks_threshold_on_the_other_folds() -> None:
    # Two folds. Fold 0 alone would pick 0.45, fold 1 alone 0.75. Each is scored with the
    # other's threshold: fold 0 then rejects its genuine pair at 0.6, and fold 1 accepts both
    # of its impostors (0.7 and 0.5).
    scores = np.array([0.3, 0.6, 0.7, 0.8, 0.5, 0.9])
    same = np.array([False, True, False, True, False, True])
    folds = np.array([0, 0, 1, 1, 1, 1])
    result = kfold_accuracy(scores, same, folds)
    assert result.thresholds[0] == pytest.approx(0.75)
    assert result.accuracies[0] == pytest.approx(0.5)
    assert result.thresholds[1] == pytest.approx(0.45)
    assert result.accuracies[1] == pytest.approx(0.5)
    assert result.mean == pytest.approx(0.5) and result.std == pytest.approx(0.0)


def test_open_set_rates() -> None:
    scores = np.array([
        [0.9, 0.1],  # mate 0, found at 0.9
        [0.7, 0.6],  # mate 1, but person 0 ranks first: a rank-1 miss
        [0.2, 0.95],  # not enrolled, matches person 1 strongly
        [0.3, 0.4],  # not enrolled, weak scores
        [-np.inf, -np.inf],  # mated probe without a detectable face
    ])
    mates = np.array([0, 1, -1, -1, 0])
    assert (rank1(scores, mates).count, rank1(scores, mates).total) == (1, 3)
    assert fnir(scores, mates, 0.8).count == 2  # the rank-1 miss and the failed detection
    assert fnir(scores, mates, 0.95).count == 3
    assert (fpir(scores, mates, 0.5).count, fpir(scores, mates, 0.5).total) == (1, 2)
    assert fpir(scores, mates, 0.35).count == 2
    assert fpir(scores, mates, 0.99).count == 0


def test_group_rates_use_pairs_inside_each_group_only() -> None:
    # Images 0-2 are group a (0 and 1 are the same person), images 3-4 group b.
    similarity = np.array([
        [1.0, 0.9, 0.85, 0.99, 0.99],
        [0.9, 1.0, 0.2, 0.99, 0.99],
        [0.85, 0.2, 1.0, 0.99, 0.99],
        [0.99, 0.99, 0.99, 1.0, 0.3],
        [0.99, 0.99, 0.99, 0.3, 1.0],
    ])
    identities = np.array(["p", "p", "q", "r", "s"])
    groups = np.array(["a", "a", "a", "b", "b"])
    rates = group_error_rates(similarity, identities, groups, 0.8)
    assert (rates["a"].fmr.count, rates["a"].fmr.total) == (1, 2)  # 0-2 at 0.85
    assert (rates["a"].fnmr.count, rates["a"].fnmr.total) == (0, 1)
    assert (rates["b"].fmr.count, rates["b"].fmr.total) == (0, 1)
    assert rates["b"].fnmr.total == 0 and rates["b"].fnmr.value is None
    # group b has no false match: the ratio is unbounded
    assert fmr_ratio(rates, min_pairs=1) is None
    loose = group_error_rates(similarity, identities, groups, 0.1)
    assert fmr_ratio(loose, min_pairs=1) == 1.0
    # Groups this small are left out of the ratio by default: one pair decides nothing.
    assert fmr_ratio(loose) is None


def test_attribute_accuracy() -> None:
    rate = gender_accuracy(["Male", "female", "male"], ["male", "Female", None])
    assert (rate.count, rate.total) == (2, 3)
    assert age_mae(np.array([20, 40, 60]), np.array([25, np.nan, 50])) == pytest.approx(7.5)
    assert age_mae(np.array([20]), np.array([np.nan])) is None
    assert [age_band(a) for a in (0, 17, 18, 44, 59, 60, 99)] == [
        "0-17", "0-17", "18-29", "30-44", "45-59", "60+", "60+"]


def test_iou_and_greedy_matching() -> None:
    truth = np.array([[0, 0, 10, 10], [20, 0, 10, 10]])
    assert iou(truth[:1], np.array([[5, 0, 10, 10]]))[0, 0] == pytest.approx(50 / 150)
    detected = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [20, 1, 10, 10], [50, 50, 5, 5]])
    scores = np.array([0.5, 0.9, 0.8, 0.99])
    matches = match(truth, detected, scores, 0.5)
    # The more confident duplicate (index 1) takes box 0; index 0 is left a false positive.
    assert sorted((d, t) for d, t, _ in matches) == [(1, 0), (2, 1)]
    assert match(truth, np.zeros((0, 4)), np.zeros(0)) == []
    assert match(np.zeros((0, 4)), detected, scores) == []


def test_rates_keep_their_counts_and_small_ones_stay_visible() -> None:
    assert Rate(0, 0).value is None  # nothing measured is not a rate of zero
    assert rate_cell(Rate(1, 4).as_dict()) == "25.000 % (1/4)"
    assert rate_cell(Rate(18, 5_923_194).as_dict()) == "3.0e-06 (18/5923194)"
    assert rate_cell(Rate(0, 10).as_dict()) == "0.000 % (0/10)"


def test_wilson_interval_bounds_small_groups() -> None:
    # Known values of the 95 % Wilson score interval.
    low, high = Rate(0, 10).interval()
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = Rate(13, 760).interval()
    assert (low, high) == (pytest.approx(0.01002, abs=1e-4), pytest.approx(0.02904, abs=1e-4))
    assert Rate(0, 0).interval() is None
    assert rate_ci_cell(Rate(0, 10).with_interval()) == "0.000 % (0/10) [0.000 %, 27.753 %]"


def test_minor_screening_counts_children_searched_and_adults_refused() -> None:
    truth = np.array([5, 12, 16, 17, 20, 30, 40, 50])
    predicted = np.array([9, 19, 22, np.nan, 17, 24, 41, 52])  # one child without a face
    screening = minor_screening(truth, predicted)
    assert (screening["minors"], screening["adults"]) == (3, 4)
    assert screening["minor_age_mae"] == pytest.approx((4 + 7 + 6) / 3)
    assert screening["minor_age_bias"] == pytest.approx((4 + 7 + 6) / 3)
    at_18, at_21, at_25 = (screening["at_age"][a] for a in ("18", "21", "25"))
    assert (at_18["minors_passed"]["count"], at_18["adults_refused"]["count"]) == (2, 1)
    assert (at_21["minors_passed"]["count"], at_21["adults_refused"]["count"]) == (1, 1)
    assert (at_25["minors_passed"]["count"], at_25["adults_refused"]["count"]) == (0, 2)
