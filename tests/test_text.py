"""DetectText on real photos: structure, filters, the 100-word cap, and SROIE receipts' line
character error rate against their ground truth."""

from __future__ import annotations

from typing import Any

import pytest

from oversight import operations
from oversight.analysis.text import MAX_WORDS, WordFilter, detect_text
from oversight.errors import InvalidImageFormatException, InvalidParameterException
from oversight.evaluation.text import read_sroie_boxes, score_text
from oversight.images import load_image
from tests.conftest import shared_path

SIGN = "ocr/mmocr/demo/demo_text_det.jpg"  # a commemorative plaque, eight short lines
# A few receipts keep CI short; bench/labels.py reports the CER over more of them.
RECEIPTS = ("000", "002")
MAX_RECEIPT_CER = 0.05


def _detect_text(rel: str, **request: Any) -> list[dict[str, Any]]:
    image = {"Bytes": shared_path(rel).read_bytes()}
    return operations.call("DetectText", {"Image": image, **request})["TextDetections"]


@pytest.fixture(scope="module")
def sign() -> list[dict[str, Any]]:
    return _detect_text(SIGN, Filters={"WordFilter": {"MinConfidence": 0}})


def test_lines_then_words_with_parent_ids(sign: list[dict[str, Any]]) -> None:
    lines = [d for d in sign if d["Type"] == "LINE"]
    words = [d for d in sign if d["Type"] == "WORD"]
    assert [d["Type"] for d in sign] == ["LINE"] * len(lines) + ["WORD"] * len(words)
    assert [d["Id"] for d in sign] == list(range(len(sign)))
    texts = [line["DetectedText"] for line in lines]
    assert "Octavia Hill" in texts and "Social Reformer" in texts
    for line in lines:
        assert "ParentId" not in line
        children = [w["DetectedText"] for w in words if w["ParentId"] == line["Id"]]
        assert " ".join(children) == line["DetectedText"]
    for detection in sign:
        box = detection["Geometry"]["BoundingBox"]
        assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1
        assert len(detection["Geometry"]["Polygon"]) == 4
        assert 0 <= detection["Confidence"] <= 100


def test_word_filter_and_regions_of_interest(sign: list[dict[str, Any]]) -> None:
    words = [d for d in sign if d["Type"] == "WORD"]
    tall = max(w["Geometry"]["BoundingBox"]["Height"] for w in words)
    only_tall = _detect_text(SIGN, Filters={"WordFilter": {"MinBoundingBoxHeight": tall * 0.9}})
    assert 0 < sum(d["Type"] == "WORD" for d in only_tall) < len(words)

    top_half = {"BoundingBox": {"Left": 0.0, "Top": 0.0, "Width": 1.0, "Height": 0.5}}
    in_region = _detect_text(SIGN, Filters={"RegionsOfInterest": [top_half]})
    region_words = [d for d in in_region if d["Type"] == "WORD"]
    assert region_words and len(region_words) < len(words)
    for word in region_words:
        box = word["Geometry"]["BoundingBox"]
        assert box["Top"] + box["Height"] / 2 < 0.5


@pytest.mark.slow
def test_at_most_100_words_on_a_long_receipt() -> None:
    detections = _detect_text("ocr/sroie-dev/img/002.jpg")
    assert sum(d["Type"] == "WORD" for d in detections) == MAX_WORDS


@pytest.mark.slow
@pytest.mark.parametrize("receipt", RECEIPTS)
def test_receipt_line_cer(receipt: str) -> None:
    image = load_image(shared_path(f"ocr/sroie-dev/img/{receipt}.jpg"))
    truth = read_sroie_boxes(shared_path(f"ocr/sroie-dev/box/{receipt}.csv"))
    found = detect_text(image, WordFilter(min_confidence=0.0), max_words=10**6)
    score = score_text(found, truth, image.width, image.height)
    assert score.cer <= MAX_RECEIPT_CER, score
    # Word boxes sit on the annotated lines.
    assert score.words_on_truth >= 0.9 * score.words, score


def test_bad_inputs_get_modelled_errors() -> None:
    with pytest.raises(InvalidImageFormatException):
        operations.call("DetectText", {"Image": {"Bytes": b"\x89PNG\r\n\x1a\n truncated"}})
    bad_region = {"Polygon": [{"X": 0.1, "Y": 0.1}, {"X": 0.5, "Y": 0.5}]}
    with pytest.raises(InvalidParameterException):
        _detect_text(SIGN, Filters={"RegionsOfInterest": [bad_region]})
