"""Calibrated Similarity: the mapping's arithmetic and the committed calibration's consistency."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oversight.analysis import EMBEDDING_MODEL, similarity_from_cosine
from oversight.analysis.similarity import (
    CALIBRATION_FILE,
    fmr_for_similarity,
    similarity_for_decades,
)

CALIBRATION = json.loads(CALIBRATION_FILE.read_text())


@pytest.mark.parametrize(
    ("similarity", "fmr"), [(0.0, 1.0), (48.0, 1e-3), (80.0, 1e-5), (99.0, 1e-6)]
)
def test_stated_thresholds_mean_stated_false_match_rates(similarity: float, fmr: float) -> None:
    assert fmr_for_similarity(similarity) == pytest.approx(fmr)
    assert similarity_for_decades(np.array(-np.log10(fmr))) == pytest.approx(similarity)


def test_similarity_is_monotone_and_bounded() -> None:
    cosines = np.linspace(-1.0, 1.0, 401)
    values = similarity_from_cosine(cosines)
    assert np.all(np.diff(values) >= 0)
    assert values[0] == 0.0 and values[-1] == 100.0


def test_calibration_hits_its_operating_points() -> None:
    assert CALIBRATION["embedding"] == EMBEDDING_MODEL
    for point in CALIBRATION["operating_points"]:
        # The cosine chosen for a Similarity maps back to that Similarity ...
        assert similarity_from_cosine(point["cosine"]) == pytest.approx(
            point["similarity"], abs=0.5
        )
        # ... and on the calibration data its false-match rate is the one the Similarity states.
        if point["target_fmr"] * CALIBRATION["impostor_pairs"] >= 10:
            assert point["measured_fmr"] <= 1.5 * point["target_fmr"]


def test_only_identical_vectors_reach_100() -> None:
    # Different photos of one person once all read exactly 100 (issue 13, item 4).
    top = CALIBRATION["cosines"][-1]
    cosines = np.linspace(top, 1.0, 50)
    values = similarity_from_cosine(cosines)
    assert np.all(np.diff(values) > 0) and values[-1] == 100.0 and values[-2] < 100.0
    assert isinstance(similarity_from_cosine(0.95), float) and similarity_from_cosine(0.95) < 100
