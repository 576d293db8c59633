"""Calibrations: how two face vectors become a Similarity that stands for a false-match rate.

A calibration belongs to one *matcher*, the vector a collection compares:
  fused  the stored vector (SFace and dlib ResNet together): the most accurate;
  sface  the SFace part of the same stored vector alone: less accurate, but it spreads its
         false matches more evenly between groups of people (docs/MODEL_CARD.md).
A collection switches matcher without re-indexing: the SFace part is inside every stored vector.

Its *method* says how a pair's cosine becomes decades d = -log10(FMR) (Similarity follows from
d, see similarity.py):
  global    one cosine -> decades map for every pair, measured over all impostor pairs.
  clusters  FairCal (Salvador et al., ICLR 2022) with an FMR map in place of its probability
            map: k-means centroids over unlabelled faces split face space into pseudo-groups;
            each cluster has its own cosine -> decades map, measured on the impostor pairs
            inside it (as deep as its pairs allow; past that, the global tail shifted to meet
            it); a pair is scored by its two faces' cluster maps, weighted by cluster size; a
            final map of those combined decades makes the overall FMR exact again. No
            demographic label is used, at fitting or at run time, and a face's cluster is one
            small matrix product away from its vector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .embedding import SFACE_WEIGHT, split_fused
from .similarity import TOP_DECADES, decades_from_anchors, similarity_for_decades

Matcher = Literal["fused", "sface"]
MATCHERS: tuple[Matcher, ...] = ("fused", "sface")
DEFAULT_MATCHER: Matcher = "fused"
METHODS = ("global", "clusters")
PACKAGED_DIR = Path(__file__).with_name("calibrations")


def matcher_vectors(vectors: np.ndarray, matcher: Matcher) -> np.ndarray:
    """The unit vectors a matcher compares, from stored (fused) vectors (rows)."""
    if matcher == "fused":
        return np.asarray(vectors, np.float32)
    return np.asarray(split_fused(np.asarray(vectors, np.float32))[0], np.float32)


def index_query(vector: np.ndarray, matcher: Matcher) -> np.ndarray:
    """A query whose inner product with a stored (fused) vector is the matcher's cosine, so
    one index over the stored vectors serves both matchers: for SFace, the SFace part scaled
    back by the fusion weight and zeros for the dlib part."""
    if matcher == "fused":
        return np.asarray(vector, np.float32)
    sface = matcher_vectors(vector[None, :], "sface")[0] / np.sqrt(SFACE_WEIGHT)
    return np.concatenate([sface, np.zeros(len(vector) - len(sface), np.float32)])


@dataclass(frozen=True)
class Calibration:
    matcher: Matcher
    method: str
    decades: np.ndarray  # the grid of d = -log10(FMR) every map is anchored on
    cosines: np.ndarray  # global: the cosine at each decade
    centroids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # K x dim, unit
    cluster_cosines: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # K x grid
    cluster_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))  # K, face counts
    combined: np.ndarray = field(default_factory=lambda: np.zeros(0))  # combined d per decade
    source: dict[str, Any] = field(default_factory=dict)  # data, counts, measured checks

    @property
    def clustered(self) -> bool:
        return self.method == "clusters"

    def clusters(self, vectors: np.ndarray) -> np.ndarray:
        """Cluster of each matcher vector (row): the nearest centroid; all 0 when global."""
        vectors = np.atleast_2d(vectors)
        if not self.clustered:
            return np.zeros(len(vectors), np.int64)
        return np.argmax(vectors @ self.centroids.T.astype(vectors.dtype), axis=1)

    def pair_decades(self, cosines: np.ndarray, clusters_a: np.ndarray,
                     clusters_b: np.ndarray) -> np.ndarray:
        """d = -log10(FMR) of pairs: cosines (any shape) whose faces are in clusters_a and
        clusters_b (broadcast against the cosines)."""
        cosines = np.asarray(cosines, np.float64)
        if not self.clustered:
            return decades_from_anchors(cosines, self.cosines, self.decades)
        a, b = np.broadcast_arrays(np.asarray(clusters_a), np.asarray(clusters_b))
        a, b = np.broadcast_to(a, cosines.shape), np.broadcast_to(b, cosines.shape)
        # Per cluster k, the decades of every pair with a face in k (rows computed once per k).
        in_a, in_b = np.zeros(cosines.shape), np.zeros(cosines.shape)
        for k in np.union1d(np.unique(a), np.unique(b)):
            on_a, on_b = a == k, b == k
            anchors = self.cluster_cosines[k]
            in_a[on_a] = decades_from_anchors(cosines[on_a], anchors, self.decades)
            in_b[on_b] = decades_from_anchors(cosines[on_b], anchors, self.decades)
        weight_a = self.cluster_weights[a] / (self.cluster_weights[a] + self.cluster_weights[b])
        mixed = weight_a * in_a + (1.0 - weight_a) * in_b
        return decades_from_anchors(mixed, self.combined, self.decades, top=TOP_DECADES)

    def similarity(self, cosines: np.ndarray, clusters_a: np.ndarray,
                   clusters_b: np.ndarray) -> np.ndarray:
        """Calibrated Similarity (0-100) of pairs (see `pair_decades`)."""
        return similarity_for_decades(self.pair_decades(cosines, clusters_a, clusters_b))

    def similarity_matrix(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """Similarity of every pair of matcher vectors (rows of a by rows of b)."""
        b = a if b is None else b
        return self.similarity(a @ b.T, self.clusters(a)[:, None], self.clusters(b)[None, :])

    def ceiling(self, cosines: np.ndarray, probe_cluster: int) -> np.ndarray:
        """The highest Similarity a face at each cosine from the probe can have, whatever its
        cluster: a search that has seen every face above a cosine knows no unseen face can
        outrank this bound."""
        cosines = np.asarray(cosines, np.float64)
        if not self.clustered:
            return self.similarity(cosines, 0, 0)
        return np.max([self.similarity(cosines, probe_cluster, k)
                       for k in range(len(self.centroids))], axis=0)

    # -- files ---------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "matcher": self.matcher, "method": self.method,
            "decades": self.decades.tolist(), "cosines": self.cosines.tolist(),
            "centroids": self.centroids.tolist(),
            "cluster_cosines": self.cluster_cosines.tolist(),
            "cluster_weights": self.cluster_weights.tolist(),
            "combined": self.combined.tolist(), "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        if data.get("matcher") not in MATCHERS or data.get("method") not in METHODS:
            raise ValueError("not a calibration: unknown matcher or method")
        calibration = cls(
            matcher=data["matcher"], method=data["method"],
            decades=np.asarray(data["decades"], np.float64),
            cosines=np.asarray(data["cosines"], np.float64),
            centroids=np.asarray(data.get("centroids") or np.zeros((0, 0)), np.float32),
            cluster_cosines=np.asarray(data.get("cluster_cosines", []), np.float64),
            cluster_weights=np.asarray(data.get("cluster_weights", []), np.float64),
            combined=np.asarray(data.get("combined", []), np.float64),
            source=data.get("source", {}),
        )
        calibration.check()
        return calibration

    def check(self) -> None:
        """Refuse a calibration that could not map every cosine (a torn or hand-edited file)."""
        grid = len(self.decades)
        if grid < 2 or self.cosines.shape != (grid,) or np.any(np.diff(self.cosines) < 0):
            raise ValueError("calibration anchors must be a non-decreasing grid")
        if self.clustered:
            k = len(self.centroids)
            if (k == 0 or self.cluster_cosines.shape != (k, grid)
                    or self.cluster_weights.shape != (k,) or self.combined.shape != (grid,)
                    or np.any(self.cluster_weights <= 0)
                    or np.any(np.diff(self.cluster_cosines, axis=1) < 0)
                    or np.any(np.diff(self.combined) < 0)):
                raise ValueError("clustered calibration: inconsistent cluster tables")

    def save(self, path: Path) -> None:
        """Write atomically; a file that already holds this calibration is left untouched, so
        processes reading it do not reload it."""
        text = json.dumps(self.to_json(), indent=1) + "\n"
        if path.is_file() and path.read_text() == text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        return cls.from_json(json.loads(path.read_text()))
