"""The Keras HDF5 -> ONNX translation: a small model written the way Keras writes one, checked
against the same network computed directly in numpy, and refusals of what it cannot translate."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from oversight.models.base import onnx_session
from oversight.models.keras_h5 import KerasModelError, keras_h5_to_onnx

RNG = np.random.default_rng(7)
HEIGHT, WIDTH, CHANNELS, FILTERS, UNITS = 5, 4, 3, 2, 3


def _layer(kind: str, name: str, inbound: str | None, **config: object) -> dict:
    return {
        "class_name": kind,
        "name": name,
        "config": {"name": name, **config},
        "inbound_nodes": [[[inbound, 0, 0, {}]]] if inbound else [],
    }


def _write(path: Path, layers: list[dict], weights: dict[str, dict[str, np.ndarray]]) -> None:
    config = {"class_name": "Model", "config": {
        "layers": layers, "input_layers": [[layers[0]["name"], 0, 0]],
        "output_layers": [[layers[-1]["name"], 0, 0]]}}
    with h5py.File(path, "w") as file:
        file.attrs["model_config"] = json.dumps(config)
        group = file.create_group("model_weights")
        for layer in layers:
            arrays = weights.get(layer["name"], {})
            layer_group = group.create_group(layer["name"])
            names = [f"{layer['name']}/{key}:0" for key in arrays]
            layer_group.attrs["weight_names"] = np.array(names, dtype="S")
            for full, value in zip(names, arrays.values(), strict=True):
                layer_group.create_dataset(full, data=value)


def _small_model(path: Path) -> dict[str, dict[str, np.ndarray]]:
    weights = {
        "conv": {"kernel": RNG.normal(size=(3, 3, CHANNELS, FILTERS)).astype(np.float32),
                 "bias": RNG.normal(size=FILTERS).astype(np.float32)},
        "bn": {"gamma": RNG.uniform(0.5, 2, FILTERS).astype(np.float32),
               "beta": RNG.normal(size=FILTERS).astype(np.float32),
               "moving_mean": RNG.normal(size=FILTERS).astype(np.float32),
               "moving_variance": RNG.uniform(0.5, 2, FILTERS).astype(np.float32)},
        "dense": {"kernel": RNG.normal(size=(HEIGHT * WIDTH * FILTERS, UNITS)).astype(np.float32),
                  "bias": RNG.normal(size=UNITS).astype(np.float32)},
    }
    layers = [
        _layer("InputLayer", "input", None, batch_input_shape=[None, HEIGHT, WIDTH, CHANNELS]),
        _layer("Conv2D", "conv", "input", strides=[1, 1], padding="same", activation="linear",
               use_bias=True, kernel_size=[3, 3]),
        _layer("BatchNormalization", "bn", "conv", axis=[3], epsilon=1e-3),
        _layer("ReLU", "relu", "bn", max_value=6.0),
        _layer("Dropout", "dropout", "relu", rate=0.5),
        _layer("Flatten", "flatten", "dropout"),
        _layer("Dense", "dense", "flatten", units=UNITS, activation="softmax", use_bias=True),
    ]
    _write(path, layers, weights)
    return weights


def _reference(x: np.ndarray, w: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
    """The same network on one NHWC image, written out in numpy."""
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    conv = np.zeros((HEIGHT, WIDTH, FILTERS), np.float64)
    for i in range(HEIGHT):
        for j in range(WIDTH):
            conv[i, j] = np.einsum("abc,abcf->f", padded[i:i + 3, j:j + 3], w["conv"]["kernel"])
    conv += w["conv"]["bias"]
    bn = w["bn"]
    normed = (conv - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 1e-3) * bn["gamma"] \
        + bn["beta"]
    logits = np.clip(normed, 0, 6).reshape(-1) @ w["dense"]["kernel"] + w["dense"]["bias"]
    e = np.exp(logits - logits.max())
    return e / e.sum()


def test_translation_matches_the_network_computed_in_numpy(tmp_path: Path) -> None:
    path = tmp_path / "small.h5"
    weights = _small_model(path)
    session = onnx_session(keras_h5_to_onnx(path).SerializeToString(), threads=1)
    x = RNG.normal(size=(HEIGHT, WIDTH, CHANNELS)).astype(np.float32)
    (out,) = session.run(None, {"input": x.transpose(2, 0, 1)[None].copy()})
    np.testing.assert_allclose(out[0], _reference(x, weights), atol=1e-5)


def test_untranslated_layers_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "recurrent.h5"
    _write(path, [_layer("InputLayer", "input", None, batch_input_shape=[None, 4, 4, 1]),
                  _layer("LSTM", "memory", "input", units=4)], {})
    with pytest.raises(KerasModelError, match="memory: LSTM"):
        keras_h5_to_onnx(path)


def test_a_file_without_a_keras_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("x", data=np.zeros(3))
    with pytest.raises(KerasModelError, match="not a Keras HDF5 model"):
        keras_h5_to_onnx(path)
