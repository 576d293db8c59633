"""docs/MODEL_CARD.md, generated from the saved evaluation results (never edited by hand).

Every number comes from a result.json an `oversight evaluate` command wrote; the card names the
data behind it, that data's terms of use, and the command that measures it again.
"""

from __future__ import annotations

import importlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import EMBEDDING_MODEL, face_model_version
from ..analysis.calibration import DEFAULT_MATCHER, Matcher
from ..analysis.calibrations import PACKAGED, active_calibration, calibration_file
from ..analysis.embedding import CALIBRATION_FILE
from ..analysis.similarity import fmr_for_similarity, similarity_for_decades
from .demographics import (
    NO_IDENTITY_CAVEAT,
    embedder_tables,
    group_table,
    ratio_line,
    screening_table,
    screening_text,
)
from .emotion import comparison_table, confusion_table
from .face_cover import group_tables, source_table
from .fairness import comparison_lines
from .operating import DEFAULT_SIMILARITY
from .report import markdown_table, percent, rate_cell

KINDS = ("verification", "identification", "demographics", "calibration", "detection", "emotion",
         "face-cover")
# The models behind the face pipeline; each module's first docstring line names it and its licence.
_MODEL_MODULES = ("yunet", "sface", "dlib_models", "age_gender", "facemesh", "iris", "emotion",
                  "face_cover")
GOALS = {"lfw_accuracy": 0.996, "non_enrolled_matches": 0, "race_fmr_ratio": 2.0}

# Terms of the datasets in ../shared/data that ship no licence file of their own (LFW, UTKFace,
# ORL, Yale) or whose licence covers the code around the images rather than the photos.
_DATA_TERMS = {
    "lfw-devtrain": "Labeled Faces in the Wild (Huang et al., UMass Amherst, 2007), View 1 "
                    "development pairs. No licence file; distributed for research with a request "
                    "to cite the technical report (LFW-README.txt). Photos of public figures "
                    "taken from news sites, without their consent to face recognition research.",
    "utkface-dev": "UTKFace (Zhang, Song and Qi, 2017): non-commercial research use only; image "
                   "copyright stays with the owners. Age, gender and race labels were estimated "
                   "by the dataset's authors, so label noise is part of every per-group number, "
                   "and its five race groups are a coarse, contested categorisation.",
    "att_orl_faces": "AT&T (ORL) Database of Faces, Olivetti Research Laboratory 1992-94: "
                     "research use with credit to ORL (att_faces/README).",
    "yalefaces": "Yale Face Database (Belhumeur, Hespanha and Kriegman, 1997): research use "
                 "with citation; no licence file ships with it.",
    "deepface": "Test images of the deepface repository (MIT code licence); photos of public "
                "figures whose rights that licence does not cover.",
    "insightface": "Test resources of the InsightFace repository (MIT code licence): LFW photos "
                   "(see lfw-devtrain) and InspireFace's test pictures (expressions, masks), "
                   "whose own terms are not stated.",
    "krasserm_face-recognition": "Apache-2.0 repository licence; the images are LFW photos.",
    "face-api.js": "MIT repository licence; example photos of TV characters' actors.",
    "dlib-voc": "dlib's example photos (Boost Software License 1.0, LICENSE.txt), originally "
                "PASCAL VOC 2007/2008 images from Flickr under their owners' terms.",
}


def _dataset_folder(path: Path) -> Path:
    """The top folder of a dataset under faces/ or detection/ (else the file's folder)."""
    parts = path.parts
    for anchor in ("faces", "detection"):
        if anchor in parts[:-1]:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            if index + 1 < len(parts) - 1 or path.is_dir():
                return Path(*parts[: index + 2])
    return path if path.is_dir() else path.parent


def data_terms(path: Path) -> str:
    """What the card says about the terms of the data at `path`."""
    folder = _dataset_folder(path)
    terms = _DATA_TERMS.get(folder.name, "Terms not known to Oversight: check the data's own "
                                         "licence before publishing results on it.")
    licence_files = sorted(folder.glob("LICENSE*")) if folder.is_dir() else []
    for licence in licence_files:
        first = next((line.strip() for line in licence.read_text(errors="replace").splitlines()
                      if line.strip()), "")
        terms += f" Licence file {licence.name}: \"{first}\"."
    return terms


def _shown(path: str, base: Path) -> str:
    """A data path as the card shows it: relative to the repository when that is shorter."""
    relative = os.path.relpath(path, base)
    return relative if len(relative) < len(path) else path


def load_results(results: Path) -> dict[str, dict[str, Any]]:
    """Saved results by kind; demographics may have one per dataset (demographics/<data>/),
    keyed "demographics/<data>" and ordered with identity-labelled data first."""
    found = {kind: json.loads((results / kind / "result.json").read_text())
             for kind in KINDS if (results / kind / "result.json").is_file()}
    per_dataset = {f"demographics/{file.parent.name}": json.loads(file.read_text())
                   for file in sorted((results / "demographics").glob("*/result.json"))}
    for key in sorted(per_dataset, key=lambda k: not per_dataset[k]["data"]["identity_labels"]):
        found[key] = per_dataset[key]
    return found


def _demographics(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every demographics result, identity-labelled data first."""
    return sorted((r for k, r in results.items() if k.split("/")[0] == "demographics"),
                  key=lambda r: not r["data"]["identity_labels"])


def _models_section() -> list[str]:
    lines = ["## Models", "", "| module | model and licence |", "|---|---|"]
    for name in _MODEL_MODULES:
        module = importlib.import_module(f"oversight.models.{name}")
        lines.append(f"| `oversight/models/{name}.py` | {(module.__doc__ or '').splitlines()[0]} |")
    return lines


def _fusion_section() -> list[str]:
    """How the fused embedding's weight was chosen, from analysis/calibration.json."""
    table = json.loads(CALIBRATION_FILE.read_text())
    chosen = table["sface_weight"]
    lines = [
        "## Embedding fusion", "",
        "The face vector joins the SFace and dlib ResNet vectors so that its cosine is "
        "w·cos(SFace) + (1 − w)·cos(dlib). `python -m oversight.evaluation.calibrate "
        f"../shared/data/faces/{table['data']}` picked w = {chosen:.2f} as the weight with the "
        "best 10-fold accuracy on the dev pairs. The weight was chosen on the same pairs, so its "
        "accuracy is slightly optimistic; the single models and the even mix are shown beside it. "
        "The same command fits each matcher's Similarity calibration (next section).", "",
        "| SFace weight | model | 10-fold accuracy |", "|---|---|---|",
    ]
    shown = {0.0: "dlib ResNet only", chosen: "fused (used)", 0.5: "even mix",
             1.0: "SFace only"}
    for weight, label in sorted(shown.items()):
        mean, std = table["pair_accuracy_by_weight"][f"{weight:.2f}"]
        lines.append(f"| {weight:.2f} | {label} | {mean * 100:.2f} % ± {std * 100:.2f} % |")
    return lines


def _matchers_section(results: dict[str, dict[str, Any]]) -> list[str]:
    """Both matchers side by side: accuracy, the calibration in force, and how evenly each
    spreads false matches (from the calibration comparison, when it was run)."""
    fusion = json.loads(CALIBRATION_FILE.read_text())
    weights: dict[Matcher, float] = {"fused": fusion["sface_weight"], "sface": 1.0}
    compared = results.get("calibration", {}).get("methods", {})
    lines = [
        "## Matchers: fused vector or SFace alone", "",
        "A collection compares either the fused vector (default) or its SFace part alone "
        "(`CreateCollection`'s or `UpdateCollectionMatcher`'s `Matcher`, docs/COLLECTIONS.md); "
        "both read the same stored vectors, so switching needs no re-indexing, and each has its "
        "own calibration. In-sample rates are on the calibration pairs; the group ratio is "
        "cross-fitted (Calibration options below).", "",
        "| matcher | LFW dev 10-fold accuracy (cosine / calibrated, cross-fitted) | calibration "
        "in force | FMR at 80 (in-sample) | FNMR at 80 (in-sample) | race FMR ratio at 32 / 48 "
        "(its method, cross-fitted) |",
        "|---|---|---|---|---|---|",
    ]
    for matcher, weight in weights.items():
        calibration = active_calibration(matcher)
        mean, std = fusion["pair_accuracy_by_weight"][f"{weight:.2f}"]
        at_80 = next((p for p in calibration.source.get("in_sample", [])
                      if p["similarity"] == DEFAULT_SIMILARITY), None)
        where = calibration_file(matcher)
        origin = ("packaged" if where.parent == PACKAGED else "this deployment's")
        entry = next((entry for method, entry in compared.get(matcher, {}).items()
                      if method.split(" ")[0] == calibration.method), {})
        ratios = entry.get("at_similarity", {})
        lines.append(
            f"| {matcher} | {mean * 100:.2f} % / {percent(entry.get('accuracy'))} | {origin} "
            f"`{calibration.method}` on {calibration.source.get('data', '?')} "
            f"({calibration.source.get('impostor_pairs', 0):,} impostor pairs) | "
            f"{rate_cell(at_80['fmr']) if at_80 else 'n/a'} | "
            f"{rate_cell(at_80['fnmr']) if at_80 else 'n/a'} | "
            + " / ".join(_ratio(ratios.get(s, {}).get("fmr_ratio")) for s in ("32", "48"))
            + " |")
    return lines


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _verification_section(result: dict[str, Any], base: Path) -> list[str]:
    data, accuracy = result["data"], result["accuracy"]
    lines = [
        "## Verification (1:1)", "",
        f"Data: `{_shown(data['pairs_file'], base)}` ({data['format']}, {data['pairs']} pairs: "
        f"{data['genuine_pairs']} same person, {data['impostor_pairs']} different people), "
        f"{data['folds']}-fold cross-validation (threshold chosen on the other folds). "
        f"{len(data['images_without_face'])} of {data['images_used']} images had no detected "
        f"face; their {data['pairs_without_face']} pairs count as errors.", "",
        f"**Accuracy: {percent(accuracy['mean'])} ± {percent(accuracy['std'])}** "
        f"(goal ≥ {percent(GOALS['lfw_accuracy'], 1)}).", "",
        "### What a Similarity threshold means", "",
        "Similarity is calibrated so that a threshold stands for a false match rate (FMR). "
        "Measured on the protocol pairs and, for resolution, on all "
        f"{result['all_pairs']['impostor_pairs']:,} different-person and "
        f"{result['all_pairs']['genuine_pairs']:,} same-person pairs of the same images. "
        "If these are the images Similarity was calibrated on (LFW devtrain is), the all-pairs "
        "FMRs are in-sample: they confirm the mapping, not that it holds on other data; the "
        "identification and demographic sections below are out-of-sample.", "",
        "| Similarity | intended FMR | FMR (protocol pairs) | FNMR (protocol pairs) | "
        "FMR (all pairs) | FNMR (all pairs) |",
        "|---|---|---|---|---|---|",
    ]
    protocol, every = result["protocol_pairs"]["at_similarity"], \
        result["all_pairs"]["at_similarity"]
    for similarity, point in protocol.items():
        lines.append(
            f"| {similarity} | {fmr_for_similarity(float(similarity)):.0e} | "
            f"{rate_cell(point['fmr'])} | {rate_cell(point['fnmr'])} | "
            f"{rate_cell(every[similarity]['fmr'])} | {rate_cell(every[similarity]['fnmr'])} |")
    lines += ["", "| FAR | TAR (protocol pairs) | TAR (all pairs) |", "|---|---|---|"]
    for far, tar in result["protocol_pairs"]["tar_at_far"].items():
        lines.append(f"| {far} | {percent(tar)} | "
                     f"{percent(result['all_pairs']['tar_at_far'][far])} |")
    lines += ["", "n/a: fewer than 1/FAR impostor pairs, so that FAR cannot be told from zero.",
              "", f"Measured by: `{result.get('command', '')}`"]
    return lines


def _identification_section(result: dict[str, Any], base: Path) -> list[str]:
    data, aclu = result["data"], result["aclu_summary"]
    default = f"{DEFAULT_SIMILARITY:g}"
    lines = [
        "## Identification (1:N)", "",
        f"Data: {', '.join(f'`{_shown(s, base)}`' for s in data['sources'])}: "
        f"{data['people']} people, {data['images']} images ({data['images_without_face']} "
        f"without a detected face). {data['enrolled_people']} people enrolled with "
        f"{data['gallery_size']} image(s) each; {data['mated_probes']} searches for enrolled "
        f"people and {data['non_mated_probes']} for people who are not enrolled.", "",
        f"Rank-1 identification rate: {rate_cell(result['rank1'])}.", "",
        f"**Not-enrolled people matched: {aclu[default]['count']} of {aclu[default]['total']} "
        f"at Similarity {default} (goal: 0), {aclu['99']['count']} at Similarity 99.** "
        "By source:", "",
        f"| source | not-enrolled searches matched at {default} |", "|---|---|",
        *[f"| `{_shown(source, base)}` | {rate_cell(rate)} |"
          for source, rate in result.get("aclu_by_source", {}).items()], "",
        "| Similarity | FNIR (enrolled, not found) | FPIR (not enrolled, matched) |",
        "|---|---|---|",
        *[f"| {s} | {rate_cell(p['fnir'])} | {rate_cell(p['fpir'])} |"
          for s, p in result["at_similarity"].items()],
        "", f"Measured by: `{result.get('command', '')}`",
    ]
    return lines


def _demographics_section(result: dict[str, Any], base: Path) -> list[str]:
    data = result["data"]
    source = f"`{_shown(data['csv'], base)}`" + (
        f" joined with `{_shown(data['labels'], base)}`" if data.get("labels") else "")
    kind = ("identity-labelled" if data["identity_labels"] else
            "no identities: upper bounds")
    lines = [
        f"## Demographic differentials ({Path(data['labels'] or data['csv']).parent.name}, "
        f"{kind})", "",
        f"Data: {source}, {data['images']} images ({data['images_without_face']} without a "
        "detected face). FMR per group counts impostor pairs inside the group, as NIST FRVT's "
        "demographic FMR does; brackets give the 95 % Wilson interval, so a group of a few "
        "hundred pairs shows how little its rate pins down. "
        + ("FNMR per group uses the identities." if data["identity_labels"] else
           NO_IDENTITY_CAVEAT)
        + (" These images are the ones the packaged calibration was fitted on, so its rates "
           "here are in-sample; Calibration options below has them cross-fitted."
           if _dataset_folder(Path(data["labels"] or data["csv"])).name
           == active_calibration(DEFAULT_MATCHER).source.get("data") else ""), "",
    ]
    for column in result["by"]:
        goal = f" Goal: ≤ {GOALS['race_fmr_ratio']:g} at 80." if column.startswith("race") else ""
        lines += [f"### By {column}", "", ratio_line(result, column) + goal, "",
                  *markdown_table(*group_table(result, column)), ""]
    tables = embedder_tables(result)
    if tables:
        lines += ["### By embedder", "",
                  "The fused vector joins two embedders. Each is set here to its own threshold "
                  f"for an overall FMR of {result['embedder_fmr']:g} over the grouping's images "
                  "(all, or the adults), so the rows compare how evenly each spreads its false "
                  "matches.", ""]
        for column, (headers, body) in tables.items():
            lines += [f"By {column}:", "", *markdown_table(headers, body), ""]
    if "minor_screening" in result:
        lines += ["### Screening children out of 1:N search", "",
                  screening_text(result["minor_screening"]) + " A key's policy can refuse "
                  "searches of probes estimated younger than an age it sets "
                  "(`min_probe_age`, docs/ACCOUNTABILITY.md); what each setting would do here:",
                  "", *markdown_table(*screening_table(result["minor_screening"])), ""]
    lines.append(f"Measured by: `{result.get('command', '')}`")
    return lines


def _calibration_section(result: dict[str, Any]) -> list[str]:
    """The group-agnostic calibrations compared (evaluation/fairness.py)."""
    return [
        "## Calibration options", "",
        "Can a calibration that never sees a demographic label make Similarity 80 mean the "
        "same false-match rate for every group? Three methods for each matcher, scored "
        "out of sample: `global` (one cosine → FMR map), `clusters` (FairCal, Salvador et al. "
        "ICLR 2022, with FMR maps: k-means over unlabelled faces, a map per cluster from the "
        "impostor pairs inside it, a pair scored by its two faces' clusters) and cohort "
        "Z-norm (each face normalised by its top-100 cosines with the calibration faces). "
        "The packaged default is the best method that keeps the overall FMR at Similarity 80 "
        "consistent with 1e-5 and LFW dev accuracy ≥ 99.6 % (column 'keeps'); docs/FAIRNESS.md "
        "explains why none reaches the goal.", "",
        *comparison_lines(result), f"Measured by: `{result.get('command', '')}`"]


def _detection_section(result: dict[str, Any], base: Path) -> list[str]:
    data = result["data"]
    iou = result["mean_matched_iou"]
    return [
        "## Face detection", "",
        f"Data: `{_shown(data['csv'], base)}`, {data['images']} images with "
        f"{data['true_faces']} hand-drawn face boxes, matched at IoU ≥ {result['min_iou']:g}.",
        "",
        f"Recall {rate_cell(result['recall'])}, precision {rate_cell(result['precision'])}, "
        f"mean IoU of matches {'n/a' if iou is None else f'{iou:.2f}'}.", "",
        f"Measured by: `{result.get('command', '')}`",
    ]


def _emotion_section(result: dict[str, Any], base: Path) -> list[str]:
    data = result["data"]
    served = result["classifiers"][result["served"]]
    return [
        "## Facial expressions (Emotions)", "",
        f"Data: {', '.join(f'`{_shown(s, base)}`' for s in data['sources'])}: "
        f"{data['images']} pictures whose file name states the expression "
        f"({len(data['images_without_face'])} without a detected face). Emotions reports "
        f"the mean of two networks; {', '.join(result['not_measured'])} is never reported (no "
        "shipped network has the class). So few faces per expression (some have one or two) "
        "make every per-type number a rough indication, and the served mean was chosen on "
        "these same pictures.", "",
        f"**Accuracy {rate_cell(served['accuracy'])}, mean recall over the expressions "
        f"{percent(served['mean_recall'], 1)}.**", "",
        *markdown_table(*comparison_table(result)), "",
        "Confusion matrix of the served mean (rows: the expression named, columns: the type "
        "read as most likely):", "",
        *markdown_table(*confusion_table(result)), "",
        f"Measured by: `{result.get('command', '')}`",
    ]


def _face_cover_section(result: dict[str, Any], base: Path) -> list[str]:
    return [
        "## Face covers (FaceOccluded, FACE_COVER)", "",
        "The mask classifier's reading of the largest face of each picture, covered at "
        f"probability ≥ {result['threshold']:g}. Covered faces found: "
        f"**{rate_cell(result['covered_found'])}**; bare faces called covered: "
        f"**{rate_cell(result['uncovered_called_covered'])}**. The data holds very few masked "
        "faces, so the first number is anecdotal.", "",
        *markdown_table(*source_table(result)), "",
        *[line for table in group_tables(result) for line in [*markdown_table(*table), ""]],
        f"Measured by: `{result.get('command', '')}`",
    ]


def _search_threshold_advice(data: dict[str, Any]) -> str:
    """Every search compares the probe with every enrolled person, so false alarms grow with
    the gallery: expecting none takes a per-comparison FMR below 1 / (searches x gallery)."""
    comparisons = data["non_mated_probes"] * data["gallery_images"]
    fmr = 1.0 / max(comparisons, 1)
    similarity = float(similarity_for_decades(np.array(-np.log10(fmr))))
    return (f"a search threshold set for the gallery size: {data['non_mated_probes']} searches "
            f"of {data['gallery_images']} enrolled faces make {comparisons:,} comparisons, so "
            f"expecting no false match needs an FMR below {fmr:.1e} per comparison, i.e. "
            f"Similarity ≥ {similarity:.0f} on data like the calibration set (the FPIR table "
            "shows what that costs in FNIR); calibration on the deployment's own images")


_RATIO_REMEDY = (
    "more impostor pairs of the smaller groups, to measure their FMR at all at this point "
    "(see the intervals); a calibration fitted on the deployment's own people "
    "(`oversight calibrate`, see Calibration options); an embedder trained on data balanced "
    "across these groups")


def _goals_section(results: dict[str, dict[str, Any]]) -> list[str]:
    """Each goal against its measurement, and what would close a shortfall."""
    rows = []
    if "verification" in results:
        accuracy = results["verification"]["accuracy"]["mean"]
        rows.append(("LFW dev-pair accuracy ≥ 99.6 %", percent(accuracy),
                     accuracy >= GOALS["lfw_accuracy"],
                     "a stronger embedder than the shipped SFace/dlib pair (none with an open "
                     "licence ships in a registry package), better alignment for dlib, or "
                     "fusion with a third model"))
    if "identification" in results:
        identification = results["identification"]
        aclu = identification["aclu_summary"][f"{DEFAULT_SIMILARITY:g}"]
        rows.append((f"no non-enrolled probe matched at Similarity {DEFAULT_SIMILARITY:g}",
                     f"{aclu['count']} of {aclu['total']}", aclu["count"] == 0,
                     _search_threshold_advice(identification["data"])))
    for result in _demographics(results):
        name = Path(result["data"]["labels"] or result["data"]["csv"]).parent.name
        for grouping in ("race", "race, adults"):
            if grouping not in result["by"]:
                continue
            ratio = result["by"][grouping]["at_similarity"][f"{DEFAULT_SIMILARITY:g}"][
                "fmr_ratio"]
            rows.append((f"FMR ratio between race groups ≤ 2 at Similarity "
                         f"{DEFAULT_SIMILARITY:g} ({name}, {grouping})",
                         "undefined" if ratio is None else f"{ratio:.2f}",
                         ratio is not None and ratio <= GOALS["race_fmr_ratio"],
                         _RATIO_REMEDY if result["data"]["identity_labels"] else
                         "identity labels (unlabelled repeats inflate these FMRs); "
                         + _RATIO_REMEDY))
    lines = ["## Goals", "", "| goal | measured | met | what would close a shortfall |",
             "|---|---|---|---|"]
    lines += [f"| {goal} | {value} | {'yes' if met else '**no**'} | "
              f"{'' if met else remedy} |" for goal, value, met, remedy in rows]
    return lines


def render(results: dict[str, dict[str, Any]], base: Path) -> str:
    sections = {"verification": _verification_section,
                "identification": _identification_section,
                "detection": _detection_section,
                "emotion": _emotion_section, "face-cover": _face_cover_section}
    measured = sorted({r["embedding_model"] for r in results.values() if "embedding_model" in r})
    stale = [m for m in measured if m != EMBEDDING_MODEL]
    lines = [
        "# Model card: Oversight face analysis", "",
        "<!-- Generated by `oversight evaluate model-card` from the saved evaluation results; "
        "edit the generator (oversight/evaluation/model_card.py), not this file. -->", "",
        f"Generated {datetime.now(UTC):%Y-%m-%d} from evaluations run "
        f"{', '.join(sorted({r['created'][:10] for r in results.values()}))}. "
        f"Embedding model: `{EMBEDDING_MODEL}` (the API's FaceModelVersion "
        f"`{face_model_version(EMBEDDING_MODEL)}`). Every number below was measured by running "
        "these models on the data named with it; run the same commands on your own data before "
        "relying on a threshold.", "",
        *([f"**Warning: some results were measured with {', '.join(stale)}, not the current "
           "embedding model; run the evaluations again.**", ""] if stale else []),
        *_models_section(), "",
        *_fusion_section(), "",
        *_matchers_section(results), "",
        *_goals_section(results), "",
    ]
    for result in _demographics(results):
        lines += [*_demographics_section(result, base), ""]
    if "calibration" in results:
        lines += [*_calibration_section(results["calibration"]), ""]
    for kind in KINDS:
        if kind in results and kind in sections:
            lines += [*sections[kind](results[kind], base), ""]
    lines += ["## Data and its terms", ""]
    used = sorted({_dataset_folder(Path(p)) for p in _data_paths(results)})
    lines += [f"- `{_shown(str(folder), base)}`: {data_terms(folder)}" for folder in used]
    lines += ["", "The images are read from ../shared/data and are never copied into this "
              "repository; only aggregate numbers and at most twenty file names of wrongly "
              "matched probes (in the identification report) leave the data folder."]
    return "\n".join(lines) + "\n"


def _data_paths(results: dict[str, dict[str, Any]]) -> list[str]:
    keys = ("pairs_file", "images_folder", "csv", "labels")
    data = [r["data"] for r in results.values()]
    return [p for d in data for p in [*(d.get(k) for k in keys), *d.get("sources", [])] if p]


def write_model_card(results: Path, output: Path) -> Path:
    found = load_results(results)
    if not found:
        raise FileNotFoundError(f"no evaluation results under {results}: run "
                                "`oversight evaluate verification|identification|...` first")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(found, output.resolve().parent.parent))
    return output
