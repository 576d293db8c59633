"""`oversight calibrate` end to end on a dozen real faces: the calibration it writes is the one
the server compares with, its changes are audited, and --reset restores the packaged one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from oversight.analysis.calibrations import active_calibration, calibration_file, packaged_file
from oversight.cli import app
from oversight.governance.audit import AuditLog
from oversight.governance.calibration_log import watch_calibrations
from oversight.operations import call
from tests.conftest import shared_path

runner = CliRunner()


def _identities(folder: Path) -> Path:
    """Three photos each of four people from face-api.js's examples."""
    source = shared_path("faces/face-api.js/identities.csv")
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    people = sorted({row["identity"] for row in rows})[:4]
    target = folder / "people.csv"
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "identity"])
        writer.writeheader()
        for person in people:
            for row in [r for r in rows if r["identity"] == person][:3]:
                writer.writerow({"path": str(source.parent.parent / row["path"]),
                                 "identity": person})
    return target


def _calibrate(*args: str) -> dict:
    outcome = runner.invoke(app, ["calibrate", *args])
    assert outcome.exit_code == 0, outcome.output
    return json.loads(outcome.stdout)


def _admin_events() -> list[tuple[str, str]]:
    return [(r["action"], r["target"]) for r in AuditLog().records() if r.get("kind") == "admin"]


def test_calibrate_installs_audits_and_resets(tmp_path: Path) -> None:
    watch_calibrations()  # as a server does at start
    people = _identities(tmp_path)
    packaged = active_calibration("sface")
    written = _calibrate(str(people), "--matcher", "sface")["Calibrations"]["sface"]
    # 12 faces of 4 people: 54 impostor pairs, far from resolving FMR 1e-5 on their own.
    assert (written["Faces"], written["Identities"], written["ImpostorPairs"]) == (12, 4, 54)
    assert written["Changed"] and written["ResolvedDecades"] < 1
    assert calibration_file("sface") == Path(written["File"]) != packaged_file("sface")
    own = active_calibration("sface")
    assert own is not packaged and own.source["data"] == str(people)
    # Past what 54 pairs resolve it follows the packaged tail, shifted to join them.
    tail = own.cosines[-4:] - packaged.cosines[-4:]
    assert np.allclose(tail, tail[0])
    described = call("CreateCollection", {"CollectionId": "c", "Matcher": "SFACE"}) and call(
        "DescribeCollection", {"CollectionId": "c"})
    assert described["MatcherCalibration"]["Source"] == "DEPLOYMENT"
    # The CLI records the change; the process comparing with it records what it loaded.
    assert _admin_events() == [("PutCalibration", "sface"), ("LoadCalibration", "sface")]
    put, load = [r for r in AuditLog().records() if r.get("kind") == "admin"]
    assert put["details"]["Sha256"] == load["details"]["Sha256"]

    again = _calibrate(str(people), "--matcher", "sface")["Calibrations"]["sface"]
    assert not again["Changed"] and len(_admin_events()) == 2  # nothing changed, no event

    assert _calibrate("--reset")["Removed"] == ["sface"]
    assert calibration_file("sface") == packaged_file("sface")
    assert _admin_events()[-1] == ("DeleteCalibration", "sface")


def test_calibrate_refuses_what_it_cannot_fit(tmp_path: Path) -> None:
    people = _identities(tmp_path)
    rows = people.read_text().splitlines()
    one_person = tmp_path / "one.csv"
    one_person.write_text("\n".join(rows[:4]) + "\n")  # header and one person's three photos
    outcome = runner.invoke(app, ["calibrate", str(one_person)])
    assert outcome.exit_code == 2 and "at least two people" in outcome.output
    not_an_image = tmp_path / "bad.csv"
    not_an_image.write_text(f"path,identity\n{people},a\n{rows[1].split(',')[0]},b\n")
    outcome = runner.invoke(app, ["calibrate", str(not_an_image)])
    assert outcome.exit_code == 2 and "error:" in outcome.output
    outcome = runner.invoke(app, ["calibrate", str(one_person), "--matcher", "dlib"])
    assert outcome.exit_code == 2 and "unknown" in outcome.output
