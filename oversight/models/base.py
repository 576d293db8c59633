"""What every model wrapper shares: locating its file, lazy thread-safe loading, ORT sessions.

Weights are never downloaded: each model names the installed package that ships its file, and a
missing package is reported as `ModelUnavailable` naming the package to install.
"""

from __future__ import annotations

import importlib.util
import threading
import weakref
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import onnxruntime as ort

from ..config import settings


class ModelUnavailable(RuntimeError):
    """A model file is not installed; the message names the package that ships it."""


def package_file(package: str, *parts: str) -> Path:
    """Path of a file shipped inside an installed Python package.

    The package is located without importing it: some ship models beside code that needs
    dependencies we deliberately do not install.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"model package '{package}' is not installed (run `make install`)")
    path = Path(spec.submodule_search_locations[0]).joinpath(*parts)
    if not path.is_file():
        raise ModelUnavailable(f"{'/'.join(parts)} not found inside package '{package}'")
    return path


def onnx_session(model: Path | bytes, threads: int | None = None) -> ort.InferenceSession:
    """A CPU onnxruntime session with an explicit thread budget and quiet logging."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or settings().inference_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Several sessions (and OpenCV) run one after another per request: idle pool threads
    # that spin would steal the cores from the next model.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


class Model(ABC):
    """A model loaded on first use, exactly once, whichever thread gets there first: calling it
    loads it, then runs `predict` (subclasses never load by hand)."""

    # Every model of the process, so the server can say which are loaded (GET /health).
    _instances: ClassVar[weakref.WeakSet[Model]] = weakref.WeakSet()

    def __init__(self) -> None:
        self._load_lock = threading.Lock()
        self._loaded = False
        Model._instances.add(self)

    @classmethod
    def loaded_models(cls) -> list[str]:
        """Class names of the models this process has loaded, sorted."""
        return sorted(type(model).__name__ for model in list(cls._instances) if model._loaded)

    def load(self) -> None:
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.load()
        return self.predict(*args, **kwargs)

    @abstractmethod
    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """The model's answer for one input; its weights are loaded."""

    @abstractmethod
    def _load(self) -> None:
        """Read weights and build the runtime objects."""
