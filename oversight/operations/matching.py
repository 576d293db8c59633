"""Calibrated matching: stored (fused) face vectors in, Rekognition's Similarity out.

Every comparison a response reports goes through here, so every Similarity comes from the
calibration in force for the matcher that compares (analysis/calibrations). A collection's
matcher is its own setting (UpdateCollectionMatcher); comparisons outside a collection
(CompareFaces) use the fused vector.

Search ranks by calibrated Similarity, not by cosine. The index orders faces by the matcher's
cosine; with a clustered calibration two faces at the same cosine may get different
Similarities (their clusters differ), so the cosine order is not the Similarity order. The
search therefore reads candidates in cosine order, widening the read until no face it has not
read could still enter the answer: every unread face has a cosine at or below the last one
read, and `Calibration.ceiling` bounds the Similarity any face at that cosine can reach. The
answer is then exactly the MaxFaces best faces by Similarity above the threshold. The same bound
keeps reads cheap: only candidates whose ceiling reaches the threshold are read from the store,
and a face's cluster is computed from its stored vector (one product with the centroids).
"""

from __future__ import annotations

from typing import cast

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
    return active_calibration(matcher).similarity_matrix(
        matcher_vectors(np.atleast_2d(source), matcher),
        matcher_vectors(np.atleast_2d(targets), matcher))[0]


def search(collection: Collection, vector: np.ndarray, max_faces: int, threshold: float,
           exclude_seq: int | None = None) -> list[tuple[FaceMatch, float]]:
    """The `max_faces` faces most similar to `vector` with Similarity >= `threshold`, best
    first, as (match, Similarity); `exclude_seq` leaves the probe's own stored face out."""
    service = collection_service()
    matcher = cast(Matcher, collection.matcher)
    calibration = active_calibration(matcher)
    probe = matcher_vectors(vector[None, :], matcher)
    probe_cluster = int(calibration.clusters(probe)[0])
    query = index_query(vector, matcher)
    extra = 0 if exclude_seq is None else 1
    # With one map for every pair, cosine order is Similarity order: the first read is final.
    wanted = (max(max_faces * _OVERREAD, _FIRST_READ) if calibration.clustered
              else max_faces) + extra
    while True:
        cosines, seqs = service.indexes.search(collection, query, wanted)
        # Only faces some cluster could lift to the threshold are read from the store.
        reachable = calibration.ceiling(cosines, probe_cluster) >= threshold
        wanted_seqs = [int(q) for q in seqs[reachable] if int(q) != exclude_seq]
        kept = sorted(((match, similarity)
                       for match, similarity in _scored(collection, wanted_seqs, probe, matcher)
                       if similarity >= threshold), key=lambda item: -item[1])
        if len(seqs) < wanted or not calibration.clustered or not reachable[-1]:
            break  # every face was read, cosine order is Similarity order, or none can reach
        # The weakest Similarity still in the answer: an unread face must beat it to enter.
        bar = threshold if len(kept) < max_faces else max(threshold, kept[max_faces - 1][1])
        if float(calibration.ceiling(cosines[-1], probe_cluster)) < bar:
            break
        wanted *= _WIDEN
    return kept[:max_faces]


def _scored(collection: Collection, seqs: list[int], probe: np.ndarray,
            matcher: Matcher) -> list[tuple[FaceMatch, float]]:
    """Stored faces (faces deleted since the index saw them are skipped) with their
    Similarity to the probe, computed from their stored vectors."""
    if not seqs:
        return []
    store = collection_service().store
    faces = store.faces_by_seq(collection, seqs)
    stored: dict[int, np.ndarray] = {}
    for found, vectors in store.embeddings(collection, np.array(seqs, np.int64)):
        stored.update(zip(found.tolist(), vectors, strict=True))
    present = [seq for seq in seqs if seq in faces and seq in stored]
    if not present:
        return []
    own = matcher_vectors(np.vstack([stored[seq] for seq in present]), matcher)
    similarities = active_calibration(matcher).similarity_matrix(probe, own)[0]
    cosines = (probe @ own.T)[0]
    return [(FaceMatch(faces[seq], float(cosine)), float(similarity))
            for seq, cosine, similarity in zip(present, cosines, similarities, strict=True)]
