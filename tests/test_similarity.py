"""Calibrated Similarity: the mapping's arithmetic and the committed calibration's consistency."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oversight.analysis import EMBEDDING_MODEL
from oversight.analysis.calibration import MATCHERS, Calibration
from oversight.analysis.calibrations import packaged_file
from oversight.analysis.embedding import CALIBRATION_FILE
from oversight.analysis.similarity import fmr_for_similarity, similarity_for_decades

FUSION = json.loads(CALIBRATION_FILE.read_text())
FUSED = Calibration.load(packaged_file("fused"))


def similarity_from_cosine(cosine: float | np.ndarray) -> np.ndarray:
    """The global map of the packaged fused calibration (faces in cluster 0 if clustered)."""
    return FUSED.similarity(np.asarray(cosine, float), 0, 0)


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


@pytest.mark.parametrize("matcher", MATCHERS)
def test_packaged_calibrations_hit_their_operating_points(matcher: str) -> None:
    assert FUSION["embedding"] == EMBEDDING_MODEL
    calibration = Calibration.load(packaged_file(matcher))  # type: ignore[arg-type]
    assert calibration.matcher == matcher
    for point in calibration.source["in_sample"]:
        # On the calibration data the false-match rate is the one the Similarity states.
        if point["intended_fmr"] * point["fmr"]["total"] >= 10:
            assert point["fmr"]["rate"] <= 1.5 * point["intended_fmr"]


def test_only_identical_vectors_reach_100() -> None:
    # Different photos of one person once all read exactly 100 (issue 13, item 4).
    top = FUSED.cosines[-1]
    cosines = np.linspace(top, 1.0, 50)
    values = similarity_from_cosine(cosines)
    assert np.all(np.diff(values) > 0) and values[-1] == 100.0 and values[-2] < 100.0
    assert similarity_from_cosine(0.95) < 100
