"""1:N identification: enrol part of the people, search with everyone, count who is found and
who is wrongly "found".

A seeded share of the people with enough images is enrolled (their first images form the
gallery, the rest are mated probes); everyone else is searched for without being enrolled, as
the people in a crowd or a mugshot comparison would be. Search is exhaustive numpy (exact), so
the numbers describe the model, not an approximate index.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import EMBEDDING_MODEL
from . import plots
from .datasets import read_identities
from .embeddings import embed_files
from .open_set import fnir, fpir, rank1
from .operating import DEFAULT_SIMILARITY, SIMILARITY_THRESHOLDS, similarity_matrix
from .report import Report, rate_cell

# Non-mated searches listed by name in the report: enough to inspect, not a data dump.
_LISTED_FALSE_MATCHES = 20


def _split(people: dict[str, list[Path]], vectors: dict[Path, np.ndarray | None],
           enrol_share: float, gallery_size: int, seed: int
           ) -> tuple[dict[str, list[Path]], list[tuple[Path, str | None]]]:
    """(gallery per enrolled person, probes with their enrolled identity or None)."""
    with_face = {name: [p for p in paths if vectors[p] is not None]
                 for name, paths in people.items()}
    eligible = sorted(name for name in people if len(with_face[name]) > gallery_size)
    chosen = np.random.default_rng(seed).permutation(len(eligible))
    enrolled = {eligible[i] for i in chosen[: round(enrol_share * len(eligible))]}
    gallery, probes = {}, []
    for name, paths in sorted(people.items()):
        if name in enrolled:
            gallery[name] = with_face[name][:gallery_size]
            probes += [(p, name) for p in paths if p not in gallery[name]]
        else:
            probes += [(p, None) for p in paths]
    return gallery, probes


def _search(gallery: dict[str, list[Path]], probes: list[tuple[Path, str | None]],
            vectors: dict[Path, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Best Similarity of every probe against every enrolled person, and each probe's mate
    column."""
    names = list(gallery)
    entries = [(column, path) for column, name in enumerate(names) for path in gallery[name]]
    matrix = np.stack([vectors[path] for _, path in entries])
    owner = np.array([column for column, _ in entries])
    scores = np.full((len(probes), len(names)), -np.inf)
    for row, (path, _) in enumerate(probes):
        if vectors[path] is not None:
            found = similarity_matrix(vectors[path][None, :], matrix)[0]
            np.maximum.at(scores[row], owner, found)
    mates = np.array([names.index(name) if name is not None else -1 for _, name in probes])
    return scores, mates


def evaluate_identification(sources: list[Path], enrol_share: float = 0.5,
                            gallery_size: int = 1, seed: int = 0,
                            progress: bool = True) -> Report:
    people: dict[str, list[Path]] = defaultdict(list)
    source_of: dict[Path, str] = {}
    for source in sources:
        for path, identity in read_identities(source):
            if path not in people[identity]:
                people[identity].append(path)
                source_of.setdefault(path, str(source))
    vectors = embed_files([p for paths in people.values() for p in paths], progress=progress)
    gallery, probes = _split(people, vectors, enrol_share, gallery_size, seed)
    if not gallery:
        raise ValueError("no person has enough images with a detectable face to enrol")
    scores, mates = _search(gallery, probes, vectors)
    names = list(gallery)
    top = scores.max(axis=1)
    non_mated = mates < 0
    at_similarity = {}
    for similarity in SIMILARITY_THRESHOLDS:
        at_similarity[f"{similarity:g}"] = {
            "fnir": fnir(scores, mates, similarity).as_dict(),
            "fpir": fpir(scores, mates, similarity).as_dict(),
        }
    false_matches = np.flatnonzero(non_mated & (top >= DEFAULT_SIMILARITY))
    false_matches = false_matches[np.argsort(-top[false_matches])]
    result: dict[str, Any] = {
        "kind": "identification",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": EMBEDDING_MODEL,
        "data": {
            "sources": [str(s) for s in sources], "people": len(people),
            "images": len(vectors),
            "images_without_face": sum(v is None for v in vectors.values()),
            "enrolled_people": len(gallery), "gallery_images": int(sum(map(len, gallery.values()))),
            "mated_probes": int(np.count_nonzero(~non_mated)),
            "non_mated_probes": int(np.count_nonzero(non_mated)),
            "enrol_share": enrol_share, "gallery_size": gallery_size, "seed": seed,
        },
        "rank1": rank1(scores, mates).as_dict(),
        "at_similarity": at_similarity,
        "aclu_summary": {
            f"{s:g}": fpir(scores, mates, s).as_dict()
            for s in (DEFAULT_SIMILARITY, 99.0)
        },
        # Where the false matches come from: image quality differs a lot between sources.
        "aclu_by_source": {
            source: fpir(scores[rows], mates[rows], DEFAULT_SIMILARITY).as_dict()
            for source in map(str, sources)
            if (rows := np.array([source_of[p] == source for p, _ in probes])).any()
        },
        "false_matches_at_default": [
            {"probe": str(probes[row][0]), "matched": names[int(np.argmax(scores[row]))],
             "similarity": float(top[row])}
            for row in false_matches[:_LISTED_FALSE_MATCHES]
        ],
    }
    report = Report("Identification (1:N)", result)
    _describe(report, result)
    found = np.isfinite(top)
    mate_scores = scores[~non_mated & found, mates[~non_mated & found]]
    report.figure("histogram",
                  plots.score_histogram(mate_scores, top[non_mated & found],
                                        list(SIMILARITY_THRESHOLDS)),
                  "Similarity of each mated probe to its mate (genuine) and the best candidate "
                  "of each non-enrolled probe (impostor)")
    return report


def _describe(report: Report, result: dict[str, Any]) -> None:
    data = result["data"]
    report.text(
        f"Embedding model `{result['embedding_model']}`. {data['people']} people, "
        f"{data['images']} images ({data['images_without_face']} without a detected face) from "
        f"{', '.join(data['sources'])}. {data['enrolled_people']} people enrolled with "
        f"{data['gallery_size']} image(s) each (seed {data['seed']}); "
        f"{data['mated_probes']} searches for enrolled people, {data['non_mated_probes']} for "
        "people who are not enrolled. A probe without a detected face is a miss.")
    report.text(f"Rank-1 identification rate: {rate_cell(result['rank1'])}")
    aclu = result["aclu_summary"]
    report.text(
        "ACLU-style summary: of the people who are not enrolled, "
        f"{aclu[f'{DEFAULT_SIMILARITY:g}']['count']} of {aclu[f'{DEFAULT_SIMILARITY:g}']['total']} "
        f"searches returned a match at Similarity {DEFAULT_SIMILARITY:g} (the default "
        f"threshold) and {aclu['99']['count']} at Similarity 99.")
    report.table(["source", f"not-enrolled searches matched at {DEFAULT_SIMILARITY:g}"],
                 [[source, rate_cell(rate)] for source, rate in result["aclu_by_source"].items()])
    report.table(["Similarity", "FNIR (enrolled, not found)", "FPIR (not enrolled, matched)"],
                 [[s, rate_cell(p["fnir"]), rate_cell(p["fpir"])]
                  for s, p in result["at_similarity"].items()])
    if result["false_matches_at_default"]:
        report.text(f"Not-enrolled probes matched at Similarity {DEFAULT_SIMILARITY:g}:")
        report.table(["probe", "matched", "Similarity"],
                     [[m["probe"], m["matched"], f"{m['similarity']:.1f}"]
                      for m in result["false_matches_at_default"]])
