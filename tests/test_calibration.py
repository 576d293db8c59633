"""Calibrations on synthetic clustered faces whose answers are known, and calibrated search.

Two well-separated groups of "faces" (unit vectors around orthogonal centres), every face its
own person: group A is tight (its impostors are alike, as one group's faces are under a biased
embedder), group B spread out. One global map then gives A far more false matches than B; the
cluster calibration, which never sees the group labels, must give both the same rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oversight.analysis.calibration import Calibration, index_query, matcher_vectors
from oversight.analysis.calibrations import active_calibration, deployment_file
from oversight.analysis.embedding import EMBEDDING_DIM, fuse
from oversight.analysis.similarity import fmr_for_similarity
from oversight.collections import Box, NewFace, collection_service
from oversight.evaluation.calibration_fit import (
    cluster_anchors,
    fit_clusters,
    fit_global,
    quantile_anchors,
)
from oversight.evaluation.fairness import cross_fitted, person_folds
from oversight.operations import matching

DIM = 16
PER_GROUP = 400


def _group(centre: int, spread: float, n: int, rng: np.random.Generator) -> np.ndarray:
    vectors = spread * rng.standard_normal((n, DIM))
    vectors[:, centre] += 1.0
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = np.vstack([_group(0, 0.12, PER_GROUP, rng), _group(1, 0.25, PER_GROUP, rng)])
    groups = np.array(["A"] * PER_GROUP + ["B"] * PER_GROUP)
    return vectors, np.array([f"person-{i}" for i in range(len(vectors))]), groups


def _within_fmr(similarity: np.ndarray, groups: np.ndarray, group: str,
                threshold: float) -> float:
    members = np.flatnonzero(groups == group)
    rows, cols = np.triu_indices(len(members), k=1)
    return float(np.mean(similarity[members[rows], members[cols]] >= threshold))


def test_quantile_anchors_read_the_fmr_off_the_scores() -> None:
    scores = np.arange(100_000) / 100_000  # uniform: a fraction f lies above 1 - f
    anchors = quantile_anchors(scores, np.array([0.0, 1.0, 2.0, 3.0]))
    assert anchors[0] == -1.0
    assert anchors[1:] == pytest.approx([0.9, 0.99, 0.999], abs=1e-4)


def test_a_small_cluster_follows_the_global_tail_shifted() -> None:
    decades = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    global_anchors = np.array([-1.0, 0.5, 0.6, 0.7, 0.8])
    scores = np.arange(1_000) / 1_000 + 0.05  # resolves 2 decades (10 above 0.99 + 0.05)
    anchors = cluster_anchors(scores, global_anchors, decades)
    assert anchors[1:3] == pytest.approx([0.95, 1.04], abs=2e-3)  # its own pairs
    assert anchors[3:] == pytest.approx([1.14, 1.24], abs=2e-3)  # global steps of 0.1 on top
    assert np.array_equal(cluster_anchors(scores[:5], global_anchors, decades), global_anchors)


def test_global_map_gives_the_tight_group_more_false_matches(faces) -> None:
    vectors, identities, groups = faces
    similarity = fit_global("fused", vectors, identities).similarity_matrix(vectors)
    threshold = 32.0  # FMR 1e-2 over all impostor pairs
    assert _within_fmr(similarity, groups, "A", threshold) > 5 * _within_fmr(
        similarity, groups, "B", threshold)


def test_cluster_calibration_evens_the_groups_without_their_labels(faces) -> None:
    vectors, identities, groups = faces
    calibration = fit_clusters("fused", vectors, identities, clusters=2)
    # The two clusters are the two groups (but for a stray face of the spread-out group).
    found = calibration.clusters(vectors)
    assert np.mean(found[:PER_GROUP] == found[0]) == 1.0
    assert np.mean(found[PER_GROUP:] != found[0]) >= 0.99
    similarity = calibration.similarity_matrix(vectors)
    first, second = np.triu_indices(len(vectors), k=1)
    for threshold in (32.0, 48.0):  # FMR 1e-2 and 1e-3
        overall = float(np.mean(similarity[first, second] >= threshold))
        assert overall == pytest.approx(fmr_for_similarity(threshold), rel=0.1)
        a, b = (_within_fmr(similarity, groups, g, threshold) for g in ("A", "B"))
        # Cross-group pairs never match, so each group carries twice the overall rate.
        assert max(a, b) / min(a, b) < 1.3
        assert (a + b) / 2 == pytest.approx(2 * overall, rel=0.15)


def test_cross_fitting_never_scores_a_pair_with_its_own_people(faces) -> None:
    vectors, identities, _ = faces
    folds = person_folds(identities, 4)
    seen: list[set[str]] = []

    def fit(v: np.ndarray, i: np.ndarray) -> Calibration:
        seen.append(set(i.tolist()))
        return fit_global("fused", v, i)

    similarity = cross_fitted(vectors, identities, folds, fit)
    assert len(seen) == 10  # one calibration per pair of folds (4 + 6)
    assert all(len(people) in (PER_GROUP, PER_GROUP + PER_GROUP // 2) or people for people in seen)
    assert np.allclose(similarity, similarity.T)
    for people in seen:
        assert len(people) < len(identities)


def test_ceiling_bounds_every_cluster(faces) -> None:
    vectors, identities, _ = faces
    calibration = fit_clusters("fused", vectors, identities, clusters=2)
    cosines = np.linspace(-0.2, 1.0, 61)
    for probe in (0, 1):
        bound = calibration.ceiling(cosines, probe)
        for other in (0, 1):
            assert np.all(calibration.similarity(cosines, probe, other) <= bound + 1e-9)


def test_calibration_files_round_trip_and_refuse_garbage(tmp_path: Path, faces) -> None:
    vectors, identities, _ = faces
    calibration = fit_clusters("sface", vectors, identities, clusters=2)
    calibration.save(tmp_path / "c.json")
    again = Calibration.load(tmp_path / "c.json")
    assert np.allclose(again.similarity_matrix(vectors[:20]),
                       calibration.similarity_matrix(vectors[:20]))
    broken = calibration.to_json() | {"cluster_weights": [1.0]}
    with pytest.raises(ValueError):
        Calibration.from_json(broken)
    with pytest.raises(ValueError):
        Calibration.from_json({"matcher": "other", "method": "global"})


def test_sface_query_reads_the_sface_cosine_from_stored_vectors() -> None:
    rng = np.random.default_rng(1)
    parts = rng.standard_normal((2, 2, 128))
    parts /= np.linalg.norm(parts, axis=2, keepdims=True)
    stored = np.vstack([fuse(parts[i, 0], parts[i, 1]) for i in range(2)])
    sface = matcher_vectors(stored, "sface")
    assert np.allclose(sface, parts[:, 0], atol=1e-5)
    assert float(index_query(stored[0], "sface") @ stored[1]) == pytest.approx(
        float(parts[0, 0] @ parts[1, 0]), abs=1e-5)
    assert np.array_equal(index_query(stored[0], "fused"), stored[0])


def test_search_ranks_by_calibrated_similarity_exactly(
        account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a clustered calibration in force, a search with a small MaxFaces must return the
    faces a brute-force ranking by Similarity returns, though the index orders by cosine.
    Probes halfway between the groups see both at like cosines, where the orders differ."""
    rng = np.random.default_rng(3)
    groups = np.vstack([_group(0, 0.12, 150, rng), _group(1, 0.2, 150, rng)])
    halfway = _group(0, 0.3, 20, rng) + _group(1, 0.3, 20, rng)
    halfway /= np.linalg.norm(halfway, axis=1, keepdims=True)
    sface = np.hstack([np.vstack([groups, halfway]), np.zeros((320, 128 - DIM), np.float32)])
    dlib_part = rng.standard_normal((320, 128)).astype(np.float32)
    dlib_part /= np.linalg.norm(dlib_part, axis=1, keepdims=True)
    stored = np.vstack([fuse(s, d) for s, d in zip(sface, dlib_part, strict=True)])
    assert stored.shape[1] == EMBEDDING_DIM
    calibration = fit_clusters("sface", sface[:300], np.arange(300).astype(str), clusters=2)
    calibration.save(deployment_file("sface"))
    assert active_calibration("sface").clustered
    service = collection_service()
    collection = service.create_collection(account, "calibrated", "m", {}, matcher="sface")
    faces = service.add_faces(collection, [NewFace(v, Box(0, 0, 1, 1), 99.0, "i") for v in stored])
    # As a request would: read after the write (in Milvus, the record names the write to wait for).
    collection = service.collection(account, "calibrated")
    reordered = 0
    for probe in range(300, 320):
        expected = calibration.similarity_matrix(sface[probe:probe + 1], sface)[0]
        expected[probe] = -1  # the probe's own face is left out below
        best = np.argsort(-expected, kind="stable")[:3]
        found = matching.search(collection, stored[probe], 3, 0.0, exclude_seq=faces[probe].seq)
        assert [m.face.face_id for m, _ in found] == [faces[i].face_id for i in best]
        assert [s for _, s in found] == pytest.approx(expected[best].tolist())
        cosines = sface[probe] @ sface.T
        cosines[probe] = -2
        reordered += set(np.argsort(-cosines)[:3].tolist()) != set(best.tolist())
    # The test means something only if cosine order and Similarity order differ somewhere.
    assert reordered > 0
    # Only candidates some cluster could lift to the threshold are read from the store.
    read: list[int] = []
    faces_by_seq = service.store.faces_by_seq
    monkeypatch.setattr(service.store, "faces_by_seq",
                        lambda c, seqs: read.append(len(seqs)) or faces_by_seq(c, seqs))
    probe = 310
    similarities = calibration.similarity_matrix(sface[probe:probe + 1], sface)[0]
    top = np.sort(similarities)
    bar = float(top[-2] + top[-3]) / 2  # the probe itself and one other face reach it
    found = matching.search(collection, stored[probe], 3, bar)
    assert len(found) == 2 and sum(read) < 10
