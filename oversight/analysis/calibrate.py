"""Calibrate Similarity and the fusion weight on LFW-style identity folders.

    python -m oversight.analysis.calibrate ../shared/data/faces/lfw-devtrain

Embeds every image (SFace and dlib separately, cached), picks the SFace weight that maximises
10-fold accuracy on the folder's pairs file, then measures the fused cosine at which the
false-match rate over ALL cross-identity image pairs falls to 10^-d, and writes those anchors to
`calibration.json` beside this file. Same-identity image pairs give the false non-match rates
reported in docs/MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import settings
from ..images import load_image
from .faces import DetectedFace, face_analyzer
from .similarity import CALIBRATION_FILE, fmr_for_similarity

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


def central_face(faces: list[DetectedFace], width: int, height: int) -> DetectedFace:
    """The face nearest the image centre: LFW crops centre the named person."""
    return min(
        faces,
        key=lambda f: (
            abs(f.box[0] + f.box[2] / 2 - width / 2) + abs(f.box[1] + f.box[3] / 2 - height / 2)
        ),
    )


def embed_folder(root: Path, limit: int | None = None) -> EmbeddedSet:
    suffix = f"-first{limit}" if limit else ""
    cache = settings().data_dir / "cache" / f"calibration-{root.name}{suffix}.npz"
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
    paths = sorted(root.glob("images/*/*.jpg"))[:limit]
    for path in tqdm(paths, desc="embedding", unit="img"):
        image = load_image(path)
        faces = analyzer.detect(image)
        if not faces:
            failures.append(path.stem)
            continue
        face = central_face(faces, image.width, image.height)
        identities.append(path.parent.name)
        names.append(path.stem)
        sface.append(analyzer._sface(image.rgb, face.landmarks5))
        dlib_vectors.append(analyzer._dlib(image.rgb, analyzer._shape5(image.rgb, face.box)))
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


def read_pairs(pairs_file: Path) -> list[tuple[str, str, bool]]:
    """LFW pairs (View 1 layout): `name i j` same person, `name1 i name2 j` different."""
    pairs = []
    for line in pairs_file.read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3:
            pairs.append(
                (f"{parts[0]}_{int(parts[1]):04d}", f"{parts[0]}_{int(parts[2]):04d}", True)
            )
        elif len(parts) == 4:
            pairs.append(
                (f"{parts[0]}_{int(parts[1]):04d}", f"{parts[2]}_{int(parts[3]):04d}", False)
            )
    return pairs


def ten_fold_accuracy(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Mean and std of accuracy, each fold's threshold chosen on the other nine."""
    folds = np.array_split(np.arange(len(scores)), 10)
    accuracies = []
    for test in folds:
        train = np.setdiff1d(np.arange(len(scores)), test)
        candidates = np.unique(scores[train])
        train_acc = [((scores[train] >= t) == same[train]).mean() for t in candidates]
        threshold = candidates[int(np.argmax(train_acc))]
        accuracies.append(((scores[test] >= threshold) == same[test]).mean())
    return float(np.mean(accuracies)), float(np.std(accuracies))


def _fused(embedded: EmbeddedSet, weight: float) -> np.ndarray:
    return np.hstack([np.sqrt(weight) * embedded.sface, np.sqrt(1 - weight) * embedded.dlib])


def calibrate(root: Path, limit: int | None = None) -> dict:
    embedded = embed_folder(root, limit)
    index = {name: i for i, name in enumerate(embedded.names)}
    pairs = read_pairs(root / "pairsDevTrain.txt")
    if limit:  # a quick run judges only the pairs whose images it embedded
        pairs = [p for p in pairs if p[0] in index and p[1] in index]
    # A pair whose image has no detected face counts as a wrong answer, not as skipped.
    usable = [(index[a], index[b], same) for a, b, same in pairs if a in index and b in index]
    missed = len(pairs) - len(usable)
    left = np.array([u[0] for u in usable])
    right = np.array([u[1] for u in usable])
    same = np.array([u[2] for u in usable])

    def pair_accuracy(weight: float) -> tuple[float, float]:
        vectors = _fused(embedded, weight)
        scores = np.einsum("ij,ij->i", vectors[left], vectors[right])
        mean, std = ten_fold_accuracy(scores, same)
        return mean * len(usable) / len(pairs), std

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
    parser.add_argument("--limit", type=int, help="embed only the first N images (quick check)")
    args = parser.parse_args()
    table = calibrate(args.folder, args.limit)
    args.output.write_text(json.dumps(table, indent=2) + "\n")
    summary = {k: v for k, v in table.items() if k not in {"cosines", "decades"}}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
