"""1:N identification on real photos, end to end through IndexFaces and SearchFacesByImage.

    .venv/bin/python bench/identification.py [--distractors 1000] [--probes 3]

Every identity set under ../shared/data/faces (identities.csv) is split by a stable hash of the
identity: three in four people are enrolled (their first photo, IndexFaces MaxFaces=1), the
rest are never enrolled. LFW devtrain people not in those sets are enrolled as distractors (one
photo each). Probes are up to --probes other photos of enrolled people (genuine) and photos of
non-enrolled people (impostors); each is searched with SearchFacesByImage (threshold 0, top 1).

Reported: rank-1 identification rate (top match is the right person, any similarity), and at
FaceMatchThreshold 80 / 95 / 99 the true-positive identification rate (right person at or above
the threshold), misidentifications (wrong enrolled person at or above it) and the false-match
rate of non-enrolled people (anyone at or above it). The run uses a fresh data directory.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
THRESHOLDS = (80.0, 95.0, 99.0)
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_.\-:]")


def as_request_image(path: Path) -> dict[str, bytes]:
    """The photo as the API accepts it: JPEG/PNG as is, other formats (PGM, GIF) as PNG."""
    data = path.read_bytes()
    if data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n":
        return {"Bytes": data}
    with Image.open(path) as image:
        buffer = io.BytesIO()
        ImageOps.exif_transpose(image).convert("RGB").save(buffer, format="PNG")
    return {"Bytes": buffer.getvalue()}


def enrolled(identity: str) -> bool:
    return int(hashlib.sha256(identity.encode()).hexdigest(), 16) % 4 != 0


def identity_sets() -> dict[str, list[Path]]:
    from oversight.evaluation.datasets import read_identities

    people: dict[str, list[Path]] = defaultdict(list)
    for csv_file in sorted(FACES.glob("*/identities.csv")):
        for path, identity in read_identities(csv_file):
            people[identity].append(path)
    return {k: v for k, v in people.items() if len(v) >= 2}


def distractors(exclude: set[str], limit: int) -> list[tuple[str, Path]]:
    chosen = []
    for person in sorted((FACES / "lfw-devtrain" / "images").iterdir()):
        if f"lfw:{person.name}" not in exclude:
            photos = sorted(person.glob("*.jpg"))
            if photos:
                chosen.append((f"distractor:{person.name}", photos[0]))
        if len(chosen) >= limit:
            break
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--distractors", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=3, help="probe photos per person")
    args = parser.parse_args()
    os.environ["OVERSIGHT_DATA_DIR"] = tempfile.mkdtemp(prefix="oversight-identification-")

    from oversight.errors import RekognitionError
    from oversight.operations import call

    call("CreateCollection", {"CollectionId": "identification"})
    people = identity_sets()
    gallery = [(who, paths[0]) for who, paths in people.items() if enrolled(who)]
    gallery += distractors(set(people), args.distractors)
    failed_enrolment = 0
    for who, path in tqdm(gallery, desc="enrolling", unit="face"):
        try:
            response = call(
                "IndexFaces",
                {
                    "CollectionId": "identification",
                    "Image": as_request_image(path),
                    "ExternalImageId": _NOT_ALLOWED.sub("_", who),
                    "MaxFaces": 1,
                },
            )
            failed_enrolment += not response["FaceRecords"]
        except RekognitionError:
            failed_enrolment += 1

    genuine: list[tuple[bool, float]] = []  # (top-1 is the right person, its similarity)
    impostor: list[float] = []  # top-1 similarity of a never-enrolled person
    # Per identity set (the prefix before ':'): genuine (correct, similarity), impostor similarity.
    by_set: dict[str, tuple[list[tuple[bool, float]], list[float]]] = defaultdict(lambda: ([], []))
    confusions: list[str] = []
    no_face = 0
    probes = [
        (who, path)
        for who, paths in people.items()
        for path in (paths[1 : 1 + args.probes] if enrolled(who) else paths[: args.probes])
    ]
    for who, path in tqdm(probes, desc="searching", unit="probe"):
        try:
            response = call(
                "SearchFacesByImage",
                {
                    "CollectionId": "identification",
                    "Image": as_request_image(path),
                    "FaceMatchThreshold": 0.0,
                    "MaxFaces": 1,
                },
            )
        except RekognitionError:
            no_face += 1
            continue
        matches = response["FaceMatches"]
        top_id = matches[0]["Face"]["ExternalImageId"] if matches else None
        top_similarity = matches[0]["Similarity"] if matches else 0.0
        name = who.split(":")[0]
        if enrolled(who):
            right = top_id == _NOT_ALLOWED.sub("_", who)
            genuine.append((right, top_similarity))
            by_set[name][0].append((right, top_similarity))
        else:
            impostor.append(top_similarity)
            by_set[name][1].append(top_similarity)
        if top_similarity >= THRESHOLDS[0] and (not enrolled(who) or not right):
            confusions.append(f"{path.name} ({who}) -> {top_id} at {top_similarity:.1f}")

    correct = np.array([c for c, _ in genuine])
    similarity = np.array([s for _, s in genuine])
    impostors = np.array(impostor)
    enrolled_people = sum(enrolled(w) for w in people)
    print(
        f"\ngallery: {len(gallery)} faces ({enrolled_people} enrolled people + "
        f"{len(gallery) - enrolled_people} LFW distractors), {failed_enrolment} not enrolled "
        f"(no face passed); probes: {len(genuine)} genuine, {len(impostors)} of "
        f"{len(people) - enrolled_people} never-enrolled people, {no_face} without a face"
    )
    print(f"rank-1 identification rate: {correct.mean():.4f}")
    print("threshold  TPIR (right, >=T)  misidentified (wrong, >=T)  non-enrolled false match")
    for threshold in THRESHOLDS:
        above = similarity >= threshold
        print(
            f"{threshold:9.0f}  {np.mean(correct & above):17.4f}  "
            f"{np.mean(~correct & above):26.4f}  "
            f"{np.mean(impostors >= threshold):.4f} ({int(np.sum(impostors >= threshold))}"
            f"/{len(impostors)})"
        )
    print(f"\nper identity set (false matches at {THRESHOLDS[0]:.0f}):")
    for name, (hits, others) in sorted(by_set.items()):
        rank1 = np.mean([c for c, _ in hits]) if hits else float("nan")
        false = np.mean(np.array(others) >= THRESHOLDS[0]) if others else float("nan")
        print(
            f"  {name:10s} genuine {len(hits):4d} rank-1 {rank1:.4f}   "
            f"non-enrolled {len(others):4d} false match {false:.4f}"
        )
    print(f"\nwrong person at or above {THRESHOLDS[0]:.0f}:")
    for line in confusions:
        print(f"  {line}")


if __name__ == "__main__":
    main()
