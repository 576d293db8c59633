"""Calibrated matching: stored (fused) face vectors in, Rekognition's Similarity out.

Every comparison a response reports goes through here, so every Similarity comes from the
calibration in force for the matcher that compares (analysis/calibrations). A collection's
matcher is its own setting (PutCollectionMatcher); comparisons outside a collection
(CompareFaces) use the fused vector.

Search ranks by calibrated Similarity, not by cosine. The index orders faces by the matcher's
cosine; with a clustered calibration two faces at the same cosine may get different
Similarities (their clusters differ), so the cosine order is not the Similarity order. The
search therefore reads candidates in cosine order, widening the read until no face it has not
read could still enter the answer: every unread face has a cosine at or below the last one
read, and `Calibration.ceiling` bounds the Similarity any face at that cosine can reach. The
answer is then exactly the MaxFaces best faces by Similarity above the threshold.
"""

from __future__ import annotations

import numpy as np

from ..analysis.calibration import DEFAULT_MATCHER, Matcher, index_query, matcher_vectors
from ..analysis.calibrations import active_calibration
from ..collections import Collection, FaceMatch, collection_service

# The first read asks the index for this many times MaxFaces (at least _FIRST_READ faces); each
# further read for four times as many.
_OVERREAD = 2
_FIRST_READ = 32
_WIDEN = 4


def compare(source: np.ndarray, targets: np.ndarray,
            matcher: Matcher = DEFAULT_MATCHER) -> np.ndarray:
    """Similarity of one stored vector with each of several (rows)."""
    return _similarities(matcher_vectors(np.atleast_2d(source), matcher),
                         np.atleast_2d(targets), matcher)


def search(collection: Collection, vector: np.ndarray, max_faces: int, threshold: float,
           exclude_seq: int | None = None) -> list[tuple[FaceMatch, float]]:
    """The `max_faces` faces most similar to `vector` with Similarity >= `threshold`, best
    first, as (match, Similarity); `exclude_seq` leaves the probe's own stored face out."""
    service = collection_service()
    matcher = collection.matcher
    calibration = active_calibration(matcher)
    probe = matcher_vectors(vector[None, :], matcher)
    probe_cluster = int(calibration.clusters(probe)[0])
    query = index_query(vector, matcher)
    wanted = max(max_faces * _OVERREAD, _FIRST_READ)
    while True:
        candidates = service.search(collection, query, wanted, exclude_seq)
        scored = _scored(collection, candidates, probe, matcher)
        kept = sorted(((match, float(similarity)) for match, similarity in scored
                       if similarity >= threshold), key=lambda item: -item[1])
        if len(candidates) < wanted or not calibration.clustered:
            break  # every face was read, or cosine order is Similarity order
        # The weakest Similarity still in the answer: an unread face must beat it to enter.
        bar = threshold if len(kept) < max_faces else max(threshold, kept[max_faces - 1][1])
        lowest = min(match.cosine for match in candidates)
        if float(calibration.ceiling(lowest, probe_cluster)) < bar:
            break
        wanted *= _WIDEN
    return kept[:max_faces]


def _scored(collection: Collection, candidates: list[FaceMatch], probe: np.ndarray,
            matcher: Matcher) -> list[tuple[FaceMatch, float]]:
    """Each candidate with its Similarity, from its stored vector (the index's score is used
    only for order: the cosine is recomputed from the vectors themselves)."""
    if not candidates:
        return []
    stored: dict[int, np.ndarray] = {}
    for seqs, vectors in collection_service().store.embeddings(
            collection, np.array([m.face.seq for m in candidates], np.int64)):
        stored.update(zip(seqs.tolist(), vectors, strict=True))
    present = [m for m in candidates if m.face.seq in stored]
    if not present:
        return []
    similarities = _similarities(probe, np.vstack([stored[m.face.seq] for m in present]),
                                 matcher)
    return list(zip(present, similarities.tolist(), strict=True))


def _similarities(probe: np.ndarray, stored: np.ndarray, matcher: Matcher) -> np.ndarray:
    """Similarity of a matcher-space probe (1 x d) with stored vectors (rows)."""
    calibration = active_calibration(matcher)
    return calibration.similarity_matrix(probe, matcher_vectors(stored, matcher))[0]
