"""`oversight evaluate ...` end to end on small real subsets of ../shared/data.

The four evaluations run once for the module (the face models load once) into one results
folder; each test then checks one report, and the model card is generated from all four.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from oversight.cli import app
from oversight.config import settings
from oversight.evaluation.datasets import read_pairs
from tests.conftest import shared_path

# Real servers, processes or whole data sets: minutes, not seconds (`make test-fast` skips them).
pytestmark = pytest.mark.slow

runner = CliRunner()
INSPIREFACE = "faces/insightface/cpp-package/inspireface/test_res/data"


def _evaluate(*args: str) -> dict:
    outcome = runner.invoke(app, ["evaluate", *args])
    assert outcome.exit_code == 0, outcome.output
    return json.loads(outcome.stdout)


def _small_pairs(folder: Path) -> Path:
    """The first 5 matched and 5 mismatched pairs of pairsDevTrain.txt, as a View 1 file."""
    lines = shared_path("faces/lfw-devtrain/pairsDevTrain.txt").read_text().splitlines()
    pairs = folder / "pairs.txt"
    pairs.write_text("\n".join(["5", *lines[1:6], *lines[1101:1106]]) + "\n")
    return pairs


def _small_attributes(folder: Path) -> Path:
    """Two UTKFace crops of each race, with their age, gender and race labels."""
    source = shared_path("faces/utkface-dev/attributes.csv")
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    chosen = [row for race in sorted({r["race"] for r in rows})
              for row in [r for r in rows if r["race"] == race][:2]]
    target = folder / "attributes.csv"
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "path": str(source.parent / row["path"])} for row in chosen)
    return target


def _small_identities(folder: Path) -> Path:
    """Three photos each of four people from face-api.js's examples."""
    source = shared_path("faces/face-api.js/identities.csv")
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    people = sorted({row["identity"] for row in rows})[:4]
    chosen = [row for person in people for row in [r for r in rows
                                                    if r["identity"] == person][:3]]
    target = folder / "identities.csv"
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "identity"])
        writer.writeheader()
        writer.writerows({"path": str(source.parent.parent / row["path"]),
                          "identity": row["identity"]} for row in chosen)
    return target


def _small_lfw_with_race(folder: Path) -> tuple[Path, Path]:
    """An LFW-style identity folder of three African- and three Caucasian-labelled people with
    two photos each (links to the shared images), and race.csv cut to them plus one person
    who is not in the folder."""
    source = shared_path("faces/lfw-devtrain")
    with (source / "race.csv").open(newline="") as handle:
        races = {row["identity"]: row["race"] for row in csv.DictReader(handle)}
    images = folder / "lfw" / "images"
    chosen: list[str] = []
    for race in ("african", "caucasian"):
        people = [p for p, r in sorted(races.items()) if r == race
                  and len(list((source / "images" / p).glob("*.jpg"))) >= 2][:3]
        chosen += people
    for person in chosen:
        (images / person).mkdir(parents=True)
        # Named _0001 and _0002 here, whatever their number in the shared copy.
        for number, photo in enumerate(sorted((source / "images" / person).glob("*.jpg"))[:2]):
            (images / person / f"{person}_{number + 1:04d}.jpg").symlink_to(photo)
    # The pairs file of this folder: each person's two photos, and each photo with the next
    # person's first one.
    matched = [f"{p}\t1\t2" for p in chosen]
    mismatched = [f"{a}\t1\t{b}\t1" for a, b in zip(chosen, chosen[1:] + chosen[:1], strict=True)]
    (folder / "lfw" / "pairsDevTrain.txt").write_text(
        "\n".join([str(len(chosen)), *matched, *mismatched]) + "\n")
    labels = folder / "lfw" / "race.csv"
    labels.write_text("identity,race\n" + "".join(f"{p},{races[p]}\n" for p in chosen)
                      + "Nobody_Here,latino\n")
    return images, labels


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("evaluation")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVERSIGHT_DATA_DIR", str(folder / "data"))
        settings.cache_clear()
        out = folder / "results"
        _evaluate("verification", str(_small_pairs(folder)), "--images",
                  str(shared_path("faces/lfw-devtrain/images")), "--output",
                  str(out / "verification"))
        _evaluate("identification", str(_small_identities(folder)), "--output",
                  str(out / "identification"))
        _evaluate("demographics", str(_small_attributes(folder)), "--output",
                  str(out / "demographics"))
        images, labels = _small_lfw_with_race(folder)
        _evaluate("demographics", str(images), "--labels", str(labels), "--face", "central",
                  "--output", str(out / "demographics" / "lfw"))
        _evaluate("calibration", str(images.parent), "--labels", str(labels), "--folds", "3",
                  "--clusters", "2", "--output", str(out / "calibration"))
        _evaluate("detection", str(shared_path("detection/dlib-voc/face_boxes_gt.csv")),
                  "--output", str(out / "detection"))
        _evaluate("emotion", str(shared_path(f"{INSPIREFACE}/emotion")),
                  str(shared_path("faces/face-api.js/examples/images")),
                  "--output", str(out / "emotion"))
        _evaluate("face-cover", "--covered", str(shared_path(f"{INSPIREFACE}/bulk/mask2.jpg")),
                  "--uncovered", str(_small_attributes(folder)), "--output",
                  str(out / "face-cover"))
        settings.cache_clear()
    return out


def _result(results: Path, kind: str) -> dict:
    folder = results / kind
    assert (folder / "report.md").is_file() and (folder / "report.html").is_file()
    return json.loads((folder / "result.json").read_text())


def test_verification_scores_lfw_pairs(results: Path) -> None:
    result = _result(results, "verification")
    # Five pairs of each kind make five folds of one matched and one mismatched pair.
    assert result["data"]["pairs"] == 10 and result["data"]["folds"] == 5
    assert result["accuracy"]["mean"] >= 0.8  # easy LFW pairs; chance is 0.5
    at_80 = result["protocol_pairs"]["at_similarity"]["80"]
    assert at_80["fmr"]["total"] == 5 and at_80["fnmr"]["total"] == 5
    # 5 impostor pairs cannot resolve a FAR of 1e-2.
    assert result["protocol_pairs"]["tar_at_far"]["0.01"] is None
    assert result["all_pairs"]["impostor_pairs"] > result["data"]["impostor_pairs"]
    assert (results / "verification" / "roc_det.png").stat().st_size > 1000
    assert "oversight evaluate verification" in result["command"]


def test_identification_finds_enrolled_people(results: Path) -> None:
    result = _result(results, "identification")
    data = result["data"]
    assert data["people"] == 4 and data["enrolled_people"] == 2
    assert data["mated_probes"] + data["non_mated_probes"] + data["gallery_images"] == 12
    assert result["rank1"]["count"] >= result["rank1"]["total"] // 2
    aclu = result["aclu_summary"]
    assert aclu["80"]["total"] == data["non_mated_probes"]
    assert aclu["99"]["count"] <= aclu["80"]["count"]
    by_source = result["aclu_by_source"].values()
    assert sum(r["count"] for r in by_source) == aclu["80"]["count"]
    assert sum(r["total"] for r in by_source) == aclu["80"]["total"]


def test_demographics_reports_every_group(results: Path) -> None:
    result = _result(results, "demographics")
    race = result["by"]["race"]
    assert set(race["attributes"]) == {"asian", "black", "indian", "others", "white"}
    for group, rates in race["at_similarity"]["80"]["groups"].items():
        faced = 2 - race["attributes"][group]["without_face"]
        assert rates["fmr"]["total"] == faced * (faced - 1) // 2  # pairs inside the group
        assert rates["fnmr"]["total"] == 0  # no identity labels: FNMR not measured
    gender = result["by"]["gender"]["attributes"]
    assert sum(g["gender_accuracy"]["count"] for g in gender.values()) >= 6  # of 10
    assert all(0 <= g["age_mae"] < 40 for g in gender.values())
    assert set(result["by"]["age"]["attributes"]) <= {"0-17", "18-29", "30-44", "45-59", "60+"}
    # Every grouping but age is repeated over adults only, leaving the children out.
    assert set(result["by"]) == {"age", "gender", "race", "gender, adults", "race, adults"}
    adults = result["by"]["race, adults"]["attributes"]
    assert sum(g["images"] for g in adults.values()) == sum(
        g["images"] for band, g in result["by"]["age"]["attributes"].items() if band != "0-17")
    # Each embedder of the fused vector, at its own threshold, over the same pairs inside groups.
    embedders = result["by_embedder"]
    assert len(embedders) == 3 and {"SFace", "dlib ResNet"} < set(embedders)
    for by_column in embedders.values():
        assert set(by_column) == {"gender", "race", "gender, adults", "race, adults"}
        assert {g: r["total"] for g, r in by_column["race"]["groups"].items()} == {
            g: r["fmr"]["total"] for g, r in race["at_similarity"]["80"]["groups"].items()}


def test_demographics_on_true_identities(results: Path) -> None:
    result = _result(results / "demographics", "lfw")
    assert result["data"]["identity_labels"] and result["data"]["face"] == "central"
    race = result["by"]["race"]
    assert {g: (a["people"], a["images"]) for g, a in race["attributes"].items()} == {
        "african": (3, 6), "caucasian": (3, 6)}
    for rates in race["at_similarity"]["80"]["groups"].values():
        # 6 photos of 3 people: 15 pairs, 3 of them the same person.
        assert (rates["fmr"]["total"], rates["fnmr"]["total"]) == (12, 3)
        low, high = rates["fmr"]["low"], rates["fmr"]["high"]
        assert 0 <= low <= rates["fmr"]["rate"] <= high <= 1
    # 12 impostor pairs are far too few to put a group into the ratio.
    assert all(t["fmr_ratio"] is None for t in race["at_similarity"].values())
    # No age or gender column: nothing estimated, nothing reported.
    assert "gender_accuracy" not in race["attributes"]["african"]


def test_calibration_options_are_compared_cross_fitted(results: Path) -> None:
    result = _result(results, "calibration")
    assert result["data"] == {**result["data"], "people": 6, "images": 12, "folds": 3}
    assert set(result["methods"]) == {"fused", "sface"}
    for methods in result["methods"].values():
        assert [m.split(" ")[0] for m in methods] == ["global", "clusters", "cohort"]
        for entry in methods.values():
            # Each calibration here is fitted on two people: the accuracy means nothing yet.
            assert 0.0 <= entry["accuracy"] <= 1.0
            at_80 = entry["at_similarity"]["80"]
            # Every pair of the 12 photos was scored: 6 same-person, 60 different-person.
            assert (at_80["fmr"]["total"], at_80["fnmr"]["total"]) == (60, 6)
            # 6 impostor pairs per race group: too few to enter a ratio.
            assert at_80["fmr_ratio"] is None
            assert entry["acceptable"] in (True, False)


def test_detection_recall_and_precision(results: Path) -> None:
    result = _result(results, "detection")
    assert result["data"] == {**result["data"], "images": 9, "true_faces": 43}
    assert result["recall"]["rate"] >= 0.6
    assert result["precision"]["rate"] >= 0.6


def test_emotion_confusion_matrix(results: Path) -> None:
    result = _result(results, "emotion")
    # face-api.js: seven expression photos (its portraits are skipped); InspireFace: three.
    assert result["data"]["images"] == 10
    assert result["data"]["by_expression"]["HAPPY"] == 2
    assert set(result["classifiers"]) == {"facex", "fer", "mean"}
    served = result["classifiers"]["mean"]
    assert np.sum(served["confusion"]) == 10 - len(result["data"]["images_without_face"])
    assert served["recall"]["HAPPY"] == {"rate": 1.0, "count": 2, "total": 2}
    assert result["not_measured"] == ["CONFUSED"] and "CONFUSED" not in result["types"]


def test_face_cover_rates(results: Path) -> None:
    result = _result(results, "face-cover")
    assert result["covered_found"] == {"rate": 1.0, "count": 1, "total": 1}
    bare = result["uncovered_called_covered"]
    assert bare["total"] >= 9 and bare["count"] <= 1
    (by_group,) = [s["by_group"] for s in result["by_source"].values() if not s["covered"]]
    assert set(by_group) == {"age", "gender", "race"}
    assert sum(r["total"] for r in by_group["race"].values()) == bare["total"]


def test_model_card_is_generated_from_the_results(results: Path, tmp_path: Path) -> None:
    card = tmp_path / "docs" / "MODEL_CARD.md"
    outcome = runner.invoke(app, ["evaluate", "model-card", "--results", str(results),
                                  "--output", str(card)])
    assert outcome.exit_code == 0, outcome.output
    text = card.read_text()
    verification = json.loads((results / "verification" / "result.json").read_text())
    assert f"{100 * verification['accuracy']['mean']:.2f} %" in text
    assert "### By embedder" in text
    assert "## Calibration options" in text and "## Matchers: fused vector or SFace alone" in text
    # Identity-labelled demographics lead; UTKFace-style data without identities follows.
    assert text.index("(lfw, identity-labelled)") < text.index("no identities: upper bounds")
    for section in ("## Verification", "## Identification", "## Demographic", "## Face detection",
                    "## Facial expressions", "## Face covers", "## Goals",
                    "## Data and its terms"):
        assert section in text
    assert "Warning" not in text  # every result was measured with the current model
    assert "Labeled Faces in the Wild" in text  # the LFW images' terms
    assert "Boost Software License" in text  # dlib-voc's licence file
    assert "Terms not known to Oversight" in text  # the subset CSVs made here


def test_model_card_without_results_fails_clearly(tmp_path: Path) -> None:
    outcome = runner.invoke(app, ["evaluate", "model-card", "--results", str(tmp_path),
                                  "--output", str(tmp_path / "card.md")])
    assert outcome.exit_code == 2 and "no evaluation results" in outcome.output


def test_pairs_files_of_both_views(tmp_path: Path) -> None:
    view2 = tmp_path / "pairs.txt"
    view2.write_text("2\t1\nA\t1\t2\nB\t1\tC\t2\nD\t3\t4\nE\t1\tF\t1\n")
    pairs = read_pairs(view2, tmp_path)
    assert pairs.view == "View 2"
    assert pairs.folds.tolist() == [0, 0, 1, 1]  # the file's own sets
    assert pairs.same.tolist() == [True, False, True, False]
    assert pairs.right[1] == tmp_path / "C" / "C_0002.jpg"
    view1 = tmp_path / "pairsDevTrain.txt"
    view1.write_text("2\nA\t1\t2\nB\t1\t3\nC\t1\tD\t1\nE\t1\tF\t1\n")
    pairs = read_pairs(view1, tmp_path, folds=2)
    assert pairs.view == "View 1"
    # Each fold gets one matched and one mismatched pair.
    assert pairs.folds.tolist() == [0, 1, 0, 1]
