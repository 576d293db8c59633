"""Read a PyTorch state dict (`.pth`) into numpy arrays without importing torch.

torch is deliberately not a dependency (a CUDA build is gigabytes). Checkpoints are pickles, and a
pickle may name any callable, so the unpickler below resolves only the handful of names a state
dict of float tensors uses and refuses everything else. Both of torch's file layouts are read:
the legacy one (a run of pickles followed by raw storages, e.g. torchvision's 2018 weights) and
the zip one (torch >= 1.6: `data.pkl` plus one `data/<key>` entry per storage).
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


class CheckpointError(ValueError):
    """The file is not a state dict of plain tensors this reader understands."""


@dataclass
class _Storage:
    key: str
    dtype: type
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def to_numpy(self) -> np.ndarray:
        if self.storage.data is None:
            raise CheckpointError(f"storage {self.storage.key} was never read")
        flat = self.storage.data
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.shape,
            strides=tuple(s * item for s in self.stride),
        )
        return np.array(view)  # own the memory: the storage buffer can then be freed


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple, stride: tuple, *_unused: Any
) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise CheckpointError(f"checkpoint refers to {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', storage type, key, location, element count[, view metadata])
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if storage_type not in _STORAGE_DTYPES:
            raise CheckpointError(f"unsupported storage type {storage_type!r}")
        return self._storages.setdefault(key, _Storage(key, _STORAGE_DTYPES[storage_type]))


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint at `path`, by its state-dict name."""
    storages: dict[str, _Storage] = {}
    if zipfile.is_zipfile(path):
        refs = _load_zip(path, storages)
    else:
        refs = _load_legacy(path, storages)
    if not isinstance(refs, dict):
        raise CheckpointError("checkpoint does not hold a state dict")
    return {name: ref.to_numpy() for name, ref in refs.items() if isinstance(ref, _TensorRef)}


def _load_legacy(path: Path, storages: dict[str, _Storage]) -> Any:
    with path.open("rb") as f:
        # Every pickle in the file goes through the restricted unpickler, headers included.
        for _header in ("magic number", "protocol version", "system info"):
            _StateDictUnpickler(f, storages).load()
        refs = _StateDictUnpickler(f, storages).load()
        keys = _StateDictUnpickler(f, storages).load()
        for key in keys:
            storage = storages[str(key)]
            (count,) = struct.unpack("<q", f.read(8))
            raw = f.read(count * np.dtype(storage.dtype).itemsize)
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return refs


def _load_zip(path: Path, storages: dict[str, _Storage]) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise CheckpointError("zip checkpoint without data.pkl")
        prefix = pkl[: -len("data.pkl")]
        refs = _StateDictUnpickler(io.BytesIO(archive.read(pkl)), storages).load()
        for key, storage in storages.items():
            raw = archive.read(f"{prefix}data/{key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return refs
