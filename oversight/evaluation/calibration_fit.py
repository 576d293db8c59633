"""Fitting calibrations (oversight/analysis/calibration.py) on identity-labelled face vectors.

Every map is read off impostor pairs (two different identities): the cosine above which a
fraction 10^-d of them lie is the anchor of decade d. A cluster's map is anchored only as deep
as its own pairs allow (at least `MIN_ABOVE` pairs above the anchor); below that it follows the
global tail, shifted to meet the cluster's deepest reliable anchor, because ten thousand pairs
cannot say where one in a million lies.
"""

from __future__ import annotations

import faiss
import numpy as np

from ..analysis.calibration import Calibration, Matcher

DECADES = np.round(np.arange(0.0, 6.01, 0.25), 2)
# Pairs that must lie above a cluster's anchor for the anchor to be read from its own pairs.
MIN_ABOVE = 10
DEFAULT_CLUSTERS = 6
_KMEANS_ITERATIONS = 25


def impostor_pairs(vectors: np.ndarray, identities: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cosines, first, second) of every pair of rows with different identities."""
    gram = vectors @ vectors.T
    first, second = np.triu_indices(len(identities), k=1)
    different = identities[first] != identities[second]
    first, second = first[different], second[different]
    return gram[first, second].astype(np.float64), first, second


def quantile_anchors(scores: np.ndarray, decades: np.ndarray = DECADES) -> np.ndarray:
    """The score above which a fraction 10^-d of `scores` lie, for each d (d = 0: -1, every
    pair), made non-decreasing."""
    if len(scores) == 0:
        raise ValueError("no impostor pairs to calibrate on (needs two or more identities)")
    anchors = [float(np.quantile(scores, 1.0 - 10.0 ** -d)) if d > 0 else -1.0 for d in decades]
    return np.maximum.accumulate(np.array(anchors))


def fit_global(matcher: Matcher, vectors: np.ndarray, identities: np.ndarray,
               prior: np.ndarray | None = None) -> Calibration:
    """One map for every pair: the anchors of all impostor pairs. With a `prior` (the anchors
    of a calibration on more pairs), decades deeper than these pairs resolve follow the prior's
    tail, shifted to join them, instead of reading the last few pairs as the tail."""
    cosines, _, _ = impostor_pairs(vectors, identities)
    return Calibration(matcher, "global", DECADES, _global_anchors(cosines, prior),
                       source=_counts(vectors, identities, cosines))


def _global_anchors(cosines: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
    if prior is None:
        return quantile_anchors(cosines)
    if len(cosines) == 0:
        raise ValueError("no impostor pairs to calibrate on (needs two or more identities)")
    return cluster_anchors(cosines, prior)


def kmeans_centroids(vectors: np.ndarray, clusters: int, seed: int = 0) -> np.ndarray:
    """Unit centroids of spherical k-means (faiss) over unlabelled unit vectors."""
    if len(vectors) < clusters:
        raise ValueError(f"{len(vectors)} faces cannot make {clusters} clusters")
    kmeans = faiss.Kmeans(vectors.shape[1], clusters, niter=_KMEANS_ITERATIONS, seed=seed,
                          spherical=True, verbose=False)
    kmeans.train(np.ascontiguousarray(vectors, dtype=np.float32))
    centroids = kmeans.centroids.astype(np.float32)
    return centroids / np.linalg.norm(centroids, axis=1, keepdims=True)


def cluster_anchors(scores: np.ndarray, global_anchors: np.ndarray,
                    decades: np.ndarray = DECADES) -> np.ndarray:
    """A cluster's anchors from its own impostor pairs down to the deepest decade they resolve
    (MIN_ABOVE pairs above), then the global anchors shifted to join them there."""
    depth = np.log10(len(scores) / MIN_ABOVE) if len(scores) > MIN_ABOVE else 0.0
    reliable = np.flatnonzero((decades <= depth) & (decades > 0))
    if reliable.size == 0:
        return global_anchors.copy()
    own = quantile_anchors(scores, decades[: reliable[-1] + 1])
    last = reliable[-1]
    tail = global_anchors[last + 1:] + (own[last] - global_anchors[last])
    return np.maximum.accumulate(np.concatenate([own, tail]))


def fit_clusters(matcher: Matcher, vectors: np.ndarray, identities: np.ndarray,
                 clusters: int = DEFAULT_CLUSTERS, unlabelled: np.ndarray | None = None,
                 seed: int = 0, prior: np.ndarray | None = None) -> Calibration:
    """FairCal with FMR maps (see analysis/calibration.py): k-means over the faces (and any
    unlabelled ones), a map per cluster from the impostor pairs inside it, and a final map that
    makes the overall FMR of the combined decades exact."""
    pool = vectors if unlabelled is None else np.vstack([vectors, unlabelled])
    centroids = kmeans_centroids(pool, clusters, seed)
    cosines, first, second = impostor_pairs(vectors, identities)
    global_anchors = _global_anchors(cosines, prior)
    member = np.argmax(vectors @ centroids.T, axis=1)
    per_cluster = np.array([
        cluster_anchors(cosines[(member[first] == k) & (member[second] == k)], global_anchors)
        for k in range(clusters)])
    # Every cluster keeps a weight, an empty one the smallest.
    weights = np.bincount(member, minlength=clusters).astype(np.float64) + 1.0
    draft = Calibration(matcher, "clusters", DECADES, global_anchors, centroids, per_cluster,
                        weights, combined=DECADES.copy())
    # With the identity final map, pair_decades gives the combined decades themselves.
    mixed = draft.pair_decades(cosines, member[first], member[second])
    combined = quantile_anchors(mixed)
    combined[0] = 0.0  # decades are never negative: d = 0 (every pair) maps to 0
    source = _counts(vectors, identities, cosines) | {
        "clusters": clusters, "unlabelled_faces": 0 if unlabelled is None else len(unlabelled),
        "faces_per_cluster": np.bincount(member, minlength=clusters).tolist()}
    return Calibration(matcher, "clusters", DECADES, global_anchors, centroids, per_cluster,
                       weights, combined, source)


def _counts(vectors: np.ndarray, identities: np.ndarray,
            cosines: np.ndarray) -> dict[str, int | float]:
    return {"faces": len(vectors), "identities": len(set(identities.tolist())),
            "impostor_pairs": len(cosines),
            # The deepest d = -log10(FMR) these pairs measure (MIN_ABOVE pairs above it).
            "resolved_decades": round(float(np.log10(max(len(cosines), 1) / MIN_ABOVE)), 2)}
