"""Calibrate Similarity and the fusion weight on an LFW-style folder.

    python -m oversight.evaluation.calibrate ../shared/data/faces/lfw-devtrain

The folder holds images/<name>/*.jpg and pairsDevTrain.txt. Embeds every image with SFace and
dlib separately (cached under <data dir>/cache/), picks the SFace weight whose fused cosine has
the best 10-fold accuracy on pairsDevTrain.txt, then finds the fused cosine above which a
fraction 10^-d of ALL cross-identity image pairs lie, and writes the weight and those anchors to
analysis/calibration.json (or --output), which analysis/similarity.py reads and
docs/MODEL_CARD.md's fusion section quotes. The FMR and FNMR per Similarity in the model card
come from `oversight evaluate verification`, not from here: the rates this records are measured
on the calibration images themselves (in-sample).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..analysis.faces import central_face, face_analyzer
from ..analysis.similarity import CALIBRATION_FILE, fmr_for_similarity
from ..config import settings
from ..images import load_image
from .datasets import read_pairs
from .scores import kfold_accuracy

DECADES = np.round(np.arange(0.0, 6.01, 0.25), 2)
WEIGHTS = np.round(np.arange(0.0, 1.001, 0.05), 2)
REPORTED_SIMILARITIES = (80.0, 90.0, 95.0, 99.0)


@dataclass
class EmbeddedSet:
    identities: np.ndarray  # one label per embedded image
    names: list[str]  # image file stem, e.g. Aaron_Peirsol_0001
    sface: np.ndarray  # N x 128, unit rows
    dlib: np.ndarray  # N x 128, unit rows
    failures: list[str]  # images with no detectable face


def embed_folder(root: Path) -> EmbeddedSet:
    cache = settings().data_dir / "cache" / f"calibration-{root.name}.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        return EmbeddedSet(
            data["identities"],
            list(data["names"]),
            data["sface"],
            data["dlib"],
            list(data["failures"]),
        )
    analyzer = face_analyzer()
    identities, names, sface, dlib_vectors, failures = [], [], [], [], []
    paths = sorted(root.glob("images/*/*.jpg"))
    for path in tqdm(paths, desc="embedding", unit="img"):
        image = load_image(path)
        faces = analyzer.detect(image)
        if not faces:
            failures.append(path.stem)
            continue
        face = central_face(faces, image.width, image.height)
        identities.append(path.parent.name)
        names.append(path.stem)
        sface_vector, dlib_vector = analyzer.component_embeddings(image, face)
        sface.append(sface_vector)
        dlib_vectors.append(dlib_vector)
    result = EmbeddedSet(
        np.array(identities), names, np.array(sface), np.array(dlib_vectors), failures
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache,
        identities=result.identities,
        names=np.array(names),
        sface=result.sface,
        dlib=result.dlib,
        failures=np.array(failures, dtype=str),
    )
    return result


def _fused(embedded: EmbeddedSet, weight: float) -> np.ndarray:
    return np.hstack([np.sqrt(weight) * embedded.sface, np.sqrt(1 - weight) * embedded.dlib])


def calibrate(root: Path) -> dict:
    embedded = embed_folder(root)
    index = {name: i for i, name in enumerate(embedded.names)}
    pairs = read_pairs(root / "pairsDevTrain.txt", root / "images")
    names = [(a.stem, b.stem) for a, b in zip(pairs.left, pairs.right, strict=True)]
    # A pair whose image has no detected face counts as a wrong answer, not as skipped.
    usable = np.array([a in index and b in index for a, b in names], bool)
    left = np.array([index[a] for (a, _), ok in zip(names, usable, strict=True) if ok])
    right = np.array([index[b] for (_, b), ok in zip(names, usable, strict=True) if ok])
    same, folds = pairs.same[usable], pairs.folds[usable]
    missed = int((~usable).sum())

    def pair_accuracy(weight: float) -> tuple[float, float]:
        vectors = _fused(embedded, weight)
        scores = np.einsum("ij,ij->i", vectors[left], vectors[right])
        result = kfold_accuracy(scores, same, folds)
        return result.mean * len(left) / (len(left) + missed), result.std

    by_weight = {float(w): pair_accuracy(float(w)) for w in tqdm(WEIGHTS, desc="fusion weight")}
    # Among equally accurate weights prefer the most even fusion: it relies on neither model alone.
    best_weight = max(by_weight, key=lambda w: (round(by_weight[w][0], 6), -abs(w - 0.5)))

    vectors = _fused(embedded, best_weight)
    gram = vectors @ vectors.T
    same_identity = embedded.identities[:, None] == embedded.identities[None, :]
    upper = np.triu(np.ones_like(same_identity), k=1)
    impostor = np.sort(gram[upper & ~same_identity])
    genuine = gram[upper & same_identity]
    # The cosine above which a fraction 10^-d of impostor pairs lie.
    cosines = [float(np.quantile(impostor, 1.0 - 10.0**-d)) if d > 0 else -1.0 for d in DECADES]
    cosines = np.maximum.accumulate(np.array(cosines))
    table = {
        "embedding": f"sface-int8+dlib-resnet-v1/w{best_weight:.3f}",
        "sface_weight": best_weight,
        "decades": DECADES.tolist(),
        "cosines": cosines.tolist(),
        "data": str(root.name),
        "images_embedded": len(embedded.names),
        "images_without_face": len(embedded.failures),
        "impostor_pairs": int(impostor.size),
        "genuine_pairs": int(genuine.size),
        "pair_accuracy_by_weight": {f"{w:.2f}": acc for w, acc in by_weight.items()},
        "pairs_without_face": missed,
    }
    table["operating_points"] = [
        {
            "similarity": s,
            "target_fmr": fmr_for_similarity(s),
            "cosine": float(np.interp(_decades_for(s), DECADES, cosines)),
        }
        for s in REPORTED_SIMILARITIES
    ]
    for point in table["operating_points"]:
        point["measured_fmr"] = float((impostor >= point["cosine"]).mean())
        point["measured_fnmr"] = float((genuine < point["cosine"]).mean())
    return table


def _decades_for(similarity: float) -> float:
    return float(-np.log10(fmr_for_similarity(similarity)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="LFW-style folder: images/<name>/*.jpg + pairs")
    parser.add_argument("--output", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args()
    table = calibrate(args.folder)
    args.output.write_text(json.dumps(table, indent=2) + "\n")
    summary = {k: v for k, v in table.items() if k not in {"cosines", "decades"}}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
