"""The calibration in force for each matcher: the deployment's own, else the packaged one.

Packaged calibrations (`fused.json`, `sface.json` beside this file) are fitted on the shared
face sets by `python -m oversight.evaluation.calibrate`. `oversight calibrate` fits one on an
owner's identity-labelled faces and installs it as `<data dir>/calibration/<matcher>.json`; a
running server picks it up at the next comparison (the file's modification time is checked),
so every process of a deployment reads the same file.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

from ...config import settings
from ..calibration import MATCHERS, Calibration, Matcher

PACKAGED = Path(__file__).parent
_lock = threading.Lock()
_loaded: dict[Path, tuple[int, Calibration]] = {}
# Called with (matcher, file, SHA-256) whenever this process starts using a deployment's file,
# so a file changed by any means, not only by `oversight calibrate`, leaves a trace.
_listeners: list[Callable[[Matcher, Path, str], None]] = []


def on_load(listener: Callable[[Matcher, Path, str], None]) -> None:
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def deployment_file(matcher: Matcher) -> Path:
    return settings().data_dir / "calibration" / f"{matcher}.json"


def packaged_file(matcher: Matcher) -> Path:
    return PACKAGED / f"{matcher}.json"


def calibration_file(matcher: Matcher) -> Path:
    """The file the calibration of `matcher` is read from now."""
    if matcher not in MATCHERS:
        raise ValueError(f"unknown matcher {matcher!r}")
    own = deployment_file(matcher)
    return own if own.is_file() else packaged_file(matcher)


def install(calibration: Calibration) -> tuple[Path, str | None, str]:
    """Make `calibration` this deployment's for its matcher: (file, SHA-256 of the file it
    replaced or None, SHA-256 of the new file)."""
    path = deployment_file(calibration.matcher)
    before = _digest(path)
    calibration.save(path)
    return path, before, _digest(path) or ""


def uninstall(matcher: Matcher) -> bool:
    """Remove the deployment's calibration of `matcher` (the packaged one applies again)."""
    path = deployment_file(matcher)
    if not path.is_file():
        return False
    path.unlink()
    return True


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def active_calibration(matcher: Matcher) -> Calibration:
    """The calibration in force for `matcher`, re-read when its file changes."""
    path = calibration_file(matcher)
    stamp = path.stat().st_mtime_ns
    with _lock:
        cached = _loaded.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    data = path.read_bytes()
    calibration = Calibration.from_json(json.loads(data))
    if calibration.matcher != matcher:
        raise ValueError(f"{path} calibrates {calibration.matcher}, not {matcher}")
    with _lock:
        _loaded[path] = (stamp, calibration)
        listeners = list(_listeners) if path.parent != PACKAGED else []
    for listener in listeners:
        listener(matcher, path, hashlib.sha256(data).hexdigest())
    return calibration

