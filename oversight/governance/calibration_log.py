"""The audit log's record of calibrations: besides `oversight calibrate`'s PutCalibration and
DeleteCalibration, every server process records (LoadCalibration, with the file's SHA-256)
each deployment calibration it starts comparing with, so a file changed by hand is seen too."""

from __future__ import annotations

from pathlib import Path

from ..analysis.calibration import Matcher
from ..analysis.calibrations import on_load
from ..operations.context import RequestContext
from .gate import audit_admin_event


def watch_calibrations() -> None:
    on_load(_record)


def _record(matcher: Matcher, path: Path, digest: str) -> None:
    audit_admin_event(RequestContext.local(), "LoadCalibration", matcher,
                      {"File": str(path), "Sha256": digest})
