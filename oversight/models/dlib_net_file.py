"""Read the layers of a dlib DNN file (`.dat`) without dlib.

dlib writes a network by recursion: each wrapper writes its version, then its whole
sub-network, then its own layer. The file therefore opens with the run of wrapper versions,
outermost first, and the layers follow innermost first (input, first convolution, ...,
loss). Wrappers with version 1 are tag and skip layers, which carry no data; version 2 is a
computational layer followed by its training state; version 3 is the layer sitting on the
input. dlib does not record which tag a skip or add_prev refers to (that lives in the C++
type), so this module returns the layers in order and the caller supplies the topology.

Integers use dlib's compact form (a control byte holding the sign and byte count, then
little-endian bytes), scalar floats are a mantissa/exponent pair of such integers, and tensor
data is raw little-endian float32. See dlib/serialize.h, dlib/dnn/core.h and layers.h.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_FLOAT_INF, _FLOAT_NINF, _FLOAT_NAN = 32000, 32001, 32002


class DlibFileError(ValueError):
    """The file does not have the layout this reader understands."""


@dataclass
class Layer:
    """One layer as stored: its dlib tag (e.g. `con_4`), scalar settings and tensors."""

    kind: str
    settings: dict[str, float] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNet:
    """The layers of a network, innermost (input) first; `None` marks a tag or skip wrapper."""

    input: Layer
    layers: list[Layer | None]
    loss: Layer


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise DlibFileError(f"bad length {size} at {self.pos}, or the file ends early")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def int(self) -> int:
        control = self.byte()
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise DlibFileError(f"bad integer control byte {control:#x} at {self.pos - 1}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent == _FLOAT_INF:
            return float("inf")
        if exponent == _FLOAT_NINF:
            return float("-inf")
        if exponent == _FLOAT_NAN:
            return float("nan")
        return float(mantissa) * 2.0**exponent

    def bool(self) -> bool:
        value = self.byte()
        if value not in (ord("0"), ord("1")):
            raise DlibFileError(f"bad bool byte {value:#x} at {self.pos - 1}")
        return value == ord("1")

    def string(self) -> str:
        return self.take(self.int()).decode("ascii", errors="replace")

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibFileError(f"tensor version {version} is not supported")
        shape = tuple(self.int() for _ in range(4))
        values = np.frombuffer(self.take(4 * int(np.prod(shape))), "<f4")
        return values.reshape(shape).astype(np.float32)

    def alias_tensor(self) -> tuple[int, ...]:
        if self.int() != 1:
            raise DlibFileError("alias_tensor version is not 1")
        return tuple(self.int() for _ in range(4))


def _read_layer(reader: _Reader) -> Layer:
    """The details of one layer, dispatched on the tag dlib writes first."""
    kind = reader.string()
    layer = Layer(kind)
    if kind in ("con_4", "con_5"):
        layer.tensors["params"] = reader.tensor()
        for name in ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            layer.settings[name] = reader.int()
        reader.alias_tensor(), reader.alias_tensor()  # views of params: filters, biases
        for _ in range(4):
            reader.float()  # learning-rate and weight-decay multipliers
        if kind == "con_5":
            layer.settings["use_bias"] = reader.bool()
    elif kind in ("affine_", "affine_2"):
        params = reader.tensor().ravel()
        gamma_shape, beta_shape = reader.alias_tensor(), reader.alias_tensor()
        channels = int(np.prod(gamma_shape))  # gamma then beta, packed in params
        if int(np.prod(beta_shape)) != channels or params.size != 2 * channels:
            raise DlibFileError("affine parameters do not hold gamma and beta")
        layer.tensors["gamma"], layer.tensors["beta"] = params[:channels], params[channels:]
        layer.settings["mode"] = reader.int()
        if kind == "affine_2":
            layer.settings["disabled"] = reader.bool()
    elif kind in ("max_pool_2", "avg_pool_2"):
        for name in ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            layer.settings[name] = reader.int()
    elif kind in ("fc_2", "fc_3"):
        layer.settings["num_outputs"] = reader.int()
        layer.settings["num_inputs"] = reader.int()
        layer.tensors["params"] = reader.tensor()
        reader.alias_tensor(), reader.alias_tensor()
        layer.settings["bias_mode"] = reader.int()
        for _ in range(4):
            reader.float()
        if kind == "fc_3":
            layer.settings["use_bias"] = reader.bool()
    elif kind in ("relu_", "add_prev_"):
        pass
    else:
        raise DlibFileError(f"layer type '{kind}' is not supported")
    return layer


def _read_training_state(reader: _Reader, *, on_input: bool) -> None:
    """What a wrapper stores after its layer: flags and gradient buffers, unused here."""
    for _ in range(3):
        reader.bool()
    reader.tensor(), reader.tensor(), reader.tensor()
    if on_input:
        reader.int()  # sample expansion factor


def read_dlib_net(path: Path) -> DlibNet:
    """Layers of a `loss_*<... input_rgb_image_sized>` network as dlib serialised it."""
    reader = _Reader(path.read_bytes())
    if reader.int() != 1:
        raise DlibFileError("not a dlib loss layer file")
    loss = Layer(reader.string())
    if loss.kind != "loss_metric_2":
        raise DlibFileError(f"loss '{loss.kind}' is not supported")
    loss.settings["margin"] = reader.float()
    loss.settings["distance_threshold"] = reader.float()

    wrappers = []
    while (version := reader.int()) != 3:
        if version not in (1, 2):
            raise DlibFileError(f"unexpected wrapper version {version}")
        wrappers.append(version)

    input_layer = Layer(reader.string())
    if input_layer.kind != "input_rgb_image_sized":
        raise DlibFileError(f"input '{input_layer.kind}' is not supported")
    for name in ("avg_red", "avg_green", "avg_blue"):
        input_layer.settings[name] = reader.float()
    input_layer.settings["nr"], input_layer.settings["nc"] = reader.int(), reader.int()

    layers: list[Layer | None] = [_read_layer(reader)]
    _read_training_state(reader, on_input=True)
    for version in reversed(wrappers):
        if version == 1:
            layers.append(None)
            continue
        layers.append(_read_layer(reader))
        _read_training_state(reader, on_input=False)
    if reader.pos != len(reader.data):
        raise DlibFileError(f"{len(reader.data) - reader.pos} bytes left after the network")
    return DlibNet(input_layer, layers, loss)
