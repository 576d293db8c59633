"""Turn a Keras HDF5 functional model into an in-memory ONNX graph, without TensorFlow.

A Keras `.h5` file holds the architecture as JSON (`model_config`) and each layer's weights as
HDF5 datasets, so h5py and `onnx.helper` are enough. Only the layer types of the convolutional
classifiers we load are translated (MobileNetV2 and a dense head); any other type is refused
by name rather than approximated. The graph takes NCHW float input, as every other ONNX model
here does, and keeps Keras' NHWC order only where it shows (Flatten).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_OPSET = 13


class KerasModelError(ValueError):
    """The file is not a Keras functional model made of the layers translated here."""


class _Graph:
    def __init__(self, weights: h5py.Group) -> None:
        self._weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def layer_weights(self, name: str) -> dict[str, np.ndarray]:
        """A layer's arrays by short name (`kernel`, `bias`, `gamma`, ...)."""
        group = self._weights[name]
        arrays = {}
        for full in group.attrs.get("weight_names", []):
            full = full.decode() if isinstance(full, bytes) else str(full)
            short = full.rsplit("/", 1)[-1].split(":", 1)[0]
            arrays[short] = np.asarray(group[full], np.float32)
        return arrays

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def activation(self, x: str, kind: str, name: str) -> str:
        if kind == "linear":
            return x
        if kind == "relu":
            return self.node("Relu", [x], f"{name}/relu")
        if kind == "softmax":
            return self.node("Softmax", [x], f"{name}/softmax", axis=-1)
        raise KerasModelError(f"layer {name}: activation {kind!r} is not translated")


def _padding(config: dict[str, Any], kernel: tuple[int, int]) -> dict[str, Any]:
    if config["padding"] == "valid":
        return {}
    if config["padding"] == "same":
        # TensorFlow's SAME puts the odd extra pixel at the bottom/right, as SAME_UPPER does.
        return {"auto_pad": "SAME_UPPER"} if any(k > 1 for k in kernel) else {}
    raise KerasModelError(f"layer {config['name']}: padding {config['padding']!r}")


def _conv(g: _Graph, x: str, config: dict[str, Any], depthwise: bool) -> str:
    name = config["name"]
    if config.get("data_format", "channels_last") != "channels_last" or any(
        d != 1 for d in config.get("dilation_rate", [1, 1])
    ):
        raise KerasModelError(f"layer {name}: only undilated channels_last convolutions")
    weights = g.layer_weights(name)
    if depthwise:
        kernel = weights["depthwise_kernel"]  # kh, kw, in, multiplier
        kh, kw, channels, multiplier = kernel.shape
        onnx_kernel = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)
        groups = channels
    else:
        kernel = weights["kernel"]  # kh, kw, in, out
        kh, kw = kernel.shape[:2]
        onnx_kernel = kernel.transpose(3, 2, 0, 1)
        groups = 1
    inputs = [x, g.constant(f"{name}/W", onnx_kernel)]
    if config.get("use_bias"):
        inputs.append(g.constant(f"{name}/B", weights["bias"]))
    y = g.node(
        "Conv", inputs, f"{name}/out", kernel_shape=[kh, kw], strides=list(config["strides"]),
        group=groups, **_padding(config, (kh, kw)),
    )
    return g.activation(y, config["activation"], name)


def _batch_norm(g: _Graph, x: str, config: dict[str, Any]) -> str:
    name = config["name"]
    axis = config["axis"]
    if (axis if isinstance(axis, int) else axis[0]) not in (3, -1):
        raise KerasModelError(f"layer {name}: batch norm over a non-channel axis")
    w = g.layer_weights(name)
    channels = w["moving_mean"].shape
    gamma = w["gamma"] if config.get("scale", True) else np.ones(channels, np.float32)
    beta = w["beta"] if config.get("center", True) else np.zeros(channels, np.float32)
    inputs = [x] + [
        g.constant(f"{name}/{part}", value)
        for part, value in (("scale", gamma), ("bias", beta), ("mean", w["moving_mean"]),
                            ("var", w["moving_variance"]))
    ]
    return g.node("BatchNormalization", inputs, f"{name}/out", epsilon=float(config["epsilon"]))


def _relu(g: _Graph, x: str, config: dict[str, Any]) -> str:
    name = config["name"]
    if config.get("negative_slope", 0.0) or config.get("threshold", 0.0):
        raise KerasModelError(f"layer {name}: leaky or thresholded ReLU")
    if config.get("max_value") is None:
        return g.node("Relu", [x], f"{name}/out")
    low = g.constant(f"{name}/min", np.array(0.0, np.float32))
    high = g.constant(f"{name}/max", np.array(config["max_value"], np.float32))
    return g.node("Clip", [x, low, high], f"{name}/out")


def _zero_padding(g: _Graph, x: str, config: dict[str, Any]) -> str:
    (top, bottom), (left, right) = config["padding"]
    pads = np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
    return g.node("Pad", [x, g.constant(f"{config['name']}/pads", pads)], f"{config['name']}/out")


def _average_pool(g: _Graph, x: str, config: dict[str, Any]) -> str:
    if config["padding"] != "valid":
        raise KerasModelError(f"layer {config['name']}: padded average pooling")
    return g.node("AveragePool", [x], f"{config['name']}/out",
                  kernel_shape=list(config["pool_size"]), strides=list(config["strides"]))


def _flatten(g: _Graph, x: str, config: dict[str, Any]) -> str:
    # Keras flattens height, width, channels in that order: go back to NHWC first.
    nhwc = g.node("Transpose", [x], f"{config['name']}/nhwc", perm=[0, 2, 3, 1])
    return g.node("Flatten", [nhwc], f"{config['name']}/out", axis=1)


def _dense(g: _Graph, x: str, config: dict[str, Any]) -> str:
    name = config["name"]
    w = g.layer_weights(name)
    inputs = [x, g.constant(f"{name}/W", w["kernel"])]
    if config.get("use_bias"):
        inputs.append(g.constant(f"{name}/B", w["bias"]))
    y = g.node("Gemm", inputs, f"{name}/out")
    return g.activation(y, config["activation"], name)


_SINGLE_INPUT: dict[str, Callable[[_Graph, str, dict[str, Any]], str]] = {
    "Conv2D": lambda g, x, c: _conv(g, x, c, depthwise=False),
    "DepthwiseConv2D": lambda g, x, c: _conv(g, x, c, depthwise=True),
    "BatchNormalization": _batch_norm,
    "ReLU": _relu,
    "ZeroPadding2D": _zero_padding,
    "AveragePooling2D": _average_pool,
    "Flatten": _flatten,
    "Dense": _dense,
    "Dropout": lambda g, x, c: x,  # inference: identity
}


def keras_h5_to_onnx(path: Path) -> onnx.ModelProto:
    """The ONNX graph of the functional Keras model in `path` (input `input`: N x C x H x W)."""
    with h5py.File(path, "r") as file:
        if "model_config" not in file.attrs or "model_weights" not in file:
            raise KerasModelError(f"{path.name} is not a Keras HDF5 model with weights")
        config = json.loads(file.attrs["model_config"])
        if config.get("class_name") != "Model":
            raise KerasModelError(f"{path.name}: only functional models are translated")
        layers = config["config"]["layers"]
        (input_layer,) = [layer for layer in layers if layer["class_name"] == "InputLayer"]
        ((output_name, _, _),) = config["config"]["output_layers"]
        _, height, width, channels = input_layer["config"]["batch_input_shape"]

        g = _Graph(file["model_weights"])
        tensors = {input_layer["name"]: "input"}
        for layer in layers:  # Keras writes layers in an order where inputs come first
            kind, layer_config = layer["class_name"], layer["config"]
            if kind == "InputLayer":
                continue
            if len(layer["inbound_nodes"]) != 1:
                raise KerasModelError(f"layer {layer['name']}: shared layers are not translated")
            sources = [tensors[inbound[0]] for inbound in layer["inbound_nodes"][0]]
            if kind == "Add":
                tensors[layer["name"]] = g.node("Sum", sources, f"{layer['name']}/out")
            elif kind in _SINGLE_INPUT and len(sources) == 1:
                tensors[layer["name"]] = _SINGLE_INPUT[kind](g, sources[0], layer_config)
            else:
                raise KerasModelError(f"layer {layer['name']}: {kind} is not translated")

    g.nodes.append(helper.make_node("Identity", [tensors[output_name]], ["output"]))
    graph = helper.make_graph(
        g.nodes, path.stem,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, height, width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", "outputs"])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    onnx.checker.check_model(model)
    return model
