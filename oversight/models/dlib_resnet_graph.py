"""dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`) as an ONNX graph.

The weights are read from dlib's own file (`dlib_net_file`) and written as an in-memory ONNX
graph, so onnxruntime runs the forward pass: the same numbers as dlib (checked by the tests)
at a fraction of the time of the pip build of dlib, which has no BLAS.

The file lists layers but not the wiring of its residual blocks, which lives in dlib's C++
type (dnn_face_recognition_ex.cpp). Two block shapes occur, read innermost first:
  ares:      tag1, con, affine, relu, con, affine, add_prev(tag1), relu
  ares_down: tag1, con/2, affine, relu, con, affine, tag2, skip1, avg_pool/2, add_prev(tag2), relu
In `None` terms (tag and skip wrappers): one `None` opens a block; two in a row mark the
block output (tag2) and return to the block input (skip1). When add_prev joins tensors of
different shapes, dlib adds them where they overlap and keeps the rest of the larger one,
i.e. the smaller one is zero-padded at the end of each axis.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .dlib_net_file import DlibFileError, DlibNet, Layer

Shape = tuple[int, int, int]  # channels, rows, columns


def _pooled_size(size: int, window: int, stride: int, padding: int) -> int:
    return 1 + (size + 2 * padding - window) // stride


class _GraphWriter:
    def __init__(self, channels: int, rows: int, columns: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.shapes: dict[str, Shape] = {"chip": (channels, rows, columns)}
        self._count = 0

    def _name(self, op: str) -> str:
        self._count += 1
        return f"{op}{self._count}"

    def _constant(self, value: np.ndarray, op: str) -> str:
        name = self._name(op)
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def _emit(self, op: str, inputs: list[str], shape: Shape, **attributes: object) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attributes))
        self.shapes[out] = shape
        return out

    def conv_affine(self, x: str, con: Layer, affine: Layer) -> str:
        """A convolution with the following per-channel affine folded into it."""
        channels, rows, columns = self.shapes[x]
        filters = int(con.settings["num_filters"])
        kernel = (int(con.settings["nr"]), int(con.settings["nc"]))
        stride = (int(con.settings["stride_y"]), int(con.settings["stride_x"]))
        padding = (int(con.settings["padding_y"]), int(con.settings["padding_x"]))
        params = con.tensors["params"].ravel()
        weight_count = filters * channels * kernel[0] * kernel[1]
        if params.size != weight_count + filters:
            raise DlibFileError("convolution parameters do not match the input channels")
        weight = params[:weight_count].reshape(filters, channels, *kernel)
        gamma, beta = affine.tensors["gamma"], affine.tensors["beta"]
        shape = (
            filters,
            _pooled_size(rows, kernel[0], stride[0], padding[0]),
            _pooled_size(columns, kernel[1], stride[1], padding[1]),
        )
        return self._emit(
            "Conv",
            [
                x,
                self._constant((weight * gamma[:, None, None, None]).astype(np.float32), "w"),
                self._constant((params[weight_count:] * gamma + beta).astype(np.float32), "b"),
            ],
            shape,
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=[padding[0], padding[1], padding[0], padding[1]],
        )

    def relu(self, x: str) -> str:
        return self._emit("Relu", [x], self.shapes[x])

    def pool(self, x: str, layer: Layer) -> str:
        channels, rows, columns = self.shapes[x]
        window = (int(layer.settings["nr"]), int(layer.settings["nc"]))
        op = "MaxPool" if layer.kind.startswith("max") else "AveragePool"
        if window == (0, 0):  # dlib's avg_pool_everything
            return self._emit(f"Global{op}", [x], (channels, 1, 1))
        stride = (int(layer.settings["stride_y"]), int(layer.settings["stride_x"]))
        padding = (int(layer.settings["padding_y"]), int(layer.settings["padding_x"]))
        if padding != (0, 0):
            raise DlibFileError("padded pooling is not supported")
        shape = (
            channels,
            _pooled_size(rows, window[0], stride[0], 0),
            _pooled_size(columns, window[1], stride[1], 0),
        )
        return self._emit(op, [x], shape, kernel_shape=list(window), strides=list(stride))

    def _pad_to(self, x: str, shape: Shape) -> str:
        if self.shapes[x] == shape:
            return x
        ends = [target - have for target, have in zip(shape, self.shapes[x], strict=True)]
        pads = np.array([0, 0, 0, 0, 0, *ends], np.int64)
        return self._emit("Pad", [x, self._constant(pads, "pads")], shape)

    def add(self, a: str, b: str) -> str:
        shape: Shape = tuple(max(p, q) for p, q in zip(self.shapes[a], self.shapes[b], strict=True))
        return self._emit("Add", [self._pad_to(a, shape), self._pad_to(b, shape)], shape)

    def fully_connected(self, x: str, layer: Layer) -> str:
        inputs, outputs = int(layer.settings["num_inputs"]), int(layer.settings["num_outputs"])
        params = layer.tensors["params"].ravel()
        if self.shapes[x][0] != inputs or params.size != inputs * outputs:
            raise DlibFileError("only a bias-free fully connected layer is supported")
        flat = self._emit("Flatten", [x], (inputs, 1, 1))
        weight = self._constant(params.reshape(inputs, outputs), "fc")
        return self._emit("MatMul", [flat, weight], (outputs, 1, 1))


def dlib_resnet_onnx(net: DlibNet) -> bytes:
    """Serialised ONNX model: input `chip` (N, 3, rows, cols) normalised as dlib's input layer
    does, output `embedding` (N, 128) equal to dlib's descriptor."""
    rows, columns = int(net.input.settings["nr"]), int(net.input.settings["nc"])
    writer = _GraphWriter(3, rows, columns)
    layers = net.layers
    current = "chip"
    block_input: str | None = None
    block_output: str | None = None
    i = 0
    while i < len(layers):
        layer = layers[i]
        if layer is None:
            if i + 1 < len(layers) and layers[i + 1] is None:  # tag2 then skip1
                if block_input is None:
                    raise DlibFileError("skip layer outside a residual block")
                block_output, current = current, block_input
                i += 2
                continue
            block_input, block_output = current, None
        elif layer.kind.startswith("con_"):
            affine = layers[i + 1] if i + 1 < len(layers) else None
            if affine is None or not affine.kind.startswith("affine_"):
                raise DlibFileError("a convolution is not followed by its affine layer")
            current = writer.conv_affine(current, layer, affine)
            i += 1
        elif layer.kind == "relu_":
            current = writer.relu(current)
        elif layer.kind in ("max_pool_2", "avg_pool_2"):
            current = writer.pool(current, layer)
        elif layer.kind == "add_prev_":
            other = block_output or block_input
            if other is None:
                raise DlibFileError("add_prev outside a residual block")
            current = writer.add(current, other)
            block_input = block_output = None
        elif layer.kind.startswith("fc_"):
            current = writer.fully_connected(current, layer)
        else:
            raise DlibFileError(f"layer '{layer.kind}' has no place in this architecture")
        i += 1

    embedding_size = writer.shapes[current][0]
    writer.nodes.append(helper.make_node("Identity", [current], ["embedding"]))
    graph = helper.make_graph(
        writer.nodes,
        "dlib_face_recognition_resnet",
        [helper.make_tensor_value_info("chip", TensorProto.FLOAT, ["N", 3, rows, columns])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", embedding_size])],
        writer.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()
