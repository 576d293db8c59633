"""Fit the packaged fusion weight and Similarity calibrations on LFW-style identity folders.

    python -m oversight.evaluation.calibrate ../shared/data/faces/lfw-devtrain

Embeds every image (the evaluation cache of embeddings.py; the SFace and dlib parts come back
out of the fused vectors), picks the SFace weight that maximises 10-fold accuracy on the
folder's pairs file and writes it to `analysis/calibration.json`; then fits each matcher's
calibration (`--method MATCHER=METHOD`, see analysis/calibration.py; the packaged choice,
PACKAGED_METHODS, is the one `oversight evaluate calibration` found to keep calibration and
accuracy while evening group FMRs most) on all cross-identity image pairs and
writes `analysis/calibrations/<matcher>.json`, with the false-match and false non-match rates
it measures at the reported Similarities on the same pairs (in-sample: the evaluations in
docs/MODEL_CARD.md measure out of sample).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import cast, get_args

import numpy as np
from tqdm import tqdm

from ..analysis.calibration import MATCHERS, Calibration, Matcher, matcher_vectors
from ..analysis.calibrations import packaged_file
from ..analysis.embedding import CALIBRATION_FILE, fuse, split_fused
from ..analysis.similarity import fmr_for_similarity
from .calibration_fit import DEFAULT_CLUSTERS, fit_clusters, fit_global
from .datasets import read_identities, read_pairs
from .embeddings import FaceChoice, embed_files
from .scores import error_rates, kfold_accuracy

WEIGHTS = np.round(np.arange(0.0, 1.001, 0.05), 2)
# docs/MODEL_CARD.md, Calibration options: clusters lowered the fused vector's African /
# Caucasian FMR ratio at Similarity 48 (9.0 -> 5.1, cross-fitted) within the calibration and
# accuracy bounds; for SFace alone they changed nothing, so it keeps the simpler global map.
PACKAGED_METHODS: dict[Matcher, str] = {"fused": "clusters", "sface": "global"}
REPORTED_SIMILARITIES = (48.0, 80.0, 90.0, 95.0, 99.0)


def fit(matcher: Matcher, vectors: np.ndarray, identities: np.ndarray, method: str,
        clusters: int = DEFAULT_CLUSTERS, prior: np.ndarray | None = None) -> Calibration:
    """A calibration of `method` ("global" or "clusters") for stored (fused) vectors, with its
    in-sample error rates at the reported Similarities recorded in its source; `prior`
    anchors carry it past the decades its pairs resolve (see calibration_fit)."""
    own = matcher_vectors(vectors, matcher)
    calibration = (fit_global(matcher, own, identities, prior) if method == "global"
                   else fit_clusters(matcher, own, identities, clusters, prior=prior))
    similarity = calibration.similarity_matrix(own)
    first, second = np.triu_indices(len(identities), k=1)
    scores, same = similarity[first, second], identities[first] == identities[second]
    points = []
    for target in REPORTED_SIMILARITIES:
        rates = error_rates(scores[same], scores[~same], target)
        points.append({"similarity": target, "intended_fmr": fmr_for_similarity(target),
                       "fmr": rates.fmr.as_dict(), "fnmr": rates.fnmr.as_dict()})
    calibration.source["in_sample"] = points
    return calibration


def fit_own_people(source: Path, matchers: tuple[Matcher, ...], method: str,
                   clusters: int = DEFAULT_CLUSTERS, face: str = "largest"
                   ) -> dict[Matcher, Calibration]:
    """Calibrations fitted on a deployment's identity-labelled faces (a CSV of path and
    identity, or a folder per person), the packaged calibration as prior for the decades the
    owner's pairs cannot resolve."""
    if face not in get_args(FaceChoice):
        raise ValueError(f"face must be one of {', '.join(get_args(FaceChoice))}")
    labelled = read_identities(source)
    found = embed_files([path for path, _ in labelled], choice=cast(FaceChoice, face))
    kept = [(found[path], identity) for path, identity in labelled if found[path] is not None]
    if len({identity for _, identity in kept}) < 2:
        raise ValueError(f"{source}: calibration needs faces of at least two people")
    vectors = np.stack([vector for vector, _ in kept]).astype(np.float32)
    identities = np.array([identity for _, identity in kept])
    fitted = {}
    for matcher in matchers:
        prior = Calibration.load(packaged_file(matcher)).cosines
        calibration = fit(matcher, vectors, identities, method, clusters, prior)
        calibration.source.update(data=str(source), images_without_face=len(labelled) - len(kept))
        fitted[matcher] = calibration
    return fitted


def _pair_accuracy(sface: np.ndarray, dlib_part: np.ndarray, weight: float,
                   left: np.ndarray, right: np.ndarray, same: np.ndarray, folds: np.ndarray,
                   missed: int) -> tuple[float, float]:
    vectors = np.hstack([np.sqrt(weight) * sface, np.sqrt(1 - weight) * dlib_part])
    scores = np.einsum("ij,ij->i", vectors[left], vectors[right])
    result = kfold_accuracy(scores, same, folds)
    # A pair whose image has no detected face counts as a wrong answer, not as skipped.
    return result.mean * len(left) / (len(left) + missed), result.std


def calibrate(root: Path, methods: dict[Matcher, str], clusters: int = DEFAULT_CLUSTERS
              ) -> tuple[dict, dict[Matcher, Calibration]]:
    paths = sorted((root / "images").glob("*/*.jpg"))
    found = embed_files(paths, choice="central")
    faced = [path for path in paths if found[path] is not None]
    index = {path: i for i, path in enumerate(faced)}
    sface, dlib_part = split_fused(np.stack([found[path] for path in faced]).astype(np.float64))
    identities = np.array([path.parent.name for path in faced])
    pairs = read_pairs(root / "pairsDevTrain.txt", root / "images")
    usable = np.array([a in index and b in index
                       for a, b in zip(pairs.left, pairs.right, strict=True)])
    left = np.array([index[a] for a, ok in zip(pairs.left, usable, strict=True) if ok])
    right = np.array([index[b] for b, ok in zip(pairs.right, usable, strict=True) if ok])
    missed = int((~usable).sum())
    by_weight = {float(w): _pair_accuracy(sface, dlib_part, float(w), left, right,
                                          pairs.same[usable], pairs.folds[usable], missed)
                 for w in tqdm(WEIGHTS, desc="fusion weight")}
    # Among equally accurate weights prefer the most even fusion: it relies on neither model alone.
    weight = max(by_weight, key=lambda w: (round(by_weight[w][0], 6), -abs(w - 0.5)))
    fusion = {
        "embedding": f"sface-int8+dlib-resnet-v1/w{weight:.3f}",
        "sface_weight": weight,
        "data": str(root.name),
        "images_embedded": len(faced),
        "images_without_face": len(paths) - len(faced),
        "pair_accuracy_by_weight": {f"{w:.2f}": acc for w, acc in by_weight.items()},
        "pairs_without_face": missed,
    }
    stored = np.vstack([fuse(s, d, weight) for s, d in zip(sface, dlib_part, strict=True)])
    calibrations = {}
    for matcher in MATCHERS:
        calibration = fit(matcher, stored, identities, methods[matcher], clusters)
        calibration.source["data"] = str(root.name)
        calibrations[matcher] = calibration
    return fusion, calibrations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="LFW-style folder: images/<name>/*.jpg + pairs")
    parser.add_argument("--method", action="append", default=[], metavar="MATCHER=METHOD",
                        help="e.g. sface=clusters (default: " + ", ".join(
                            f"{m}={x}" for m, x in PACKAGED_METHODS.items()) + ")")
    parser.add_argument("--clusters", type=int, default=DEFAULT_CLUSTERS)
    args = parser.parse_args()
    methods = PACKAGED_METHODS | dict(choice.split("=", 1) for choice in args.method)
    fusion, calibrations = calibrate(args.folder, methods, args.clusters)
    CALIBRATION_FILE.write_text(json.dumps(fusion, indent=2) + "\n")
    for matcher, calibration in calibrations.items():
        calibration.save(packaged_file(matcher))
    print(json.dumps({"fusion": fusion, **{m: c.source for m, c in calibrations.items()}},
                     indent=2))


if __name__ == "__main__":
    main()
