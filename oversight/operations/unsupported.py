"""Operations Oversight deliberately does not provide, each with the reason a caller is told.

A handler module declares `unsupported("RecognizeCelebrities", "no model ships in a
package")` beside its handlers; operations with no handler module at all are declared at the end
of this one, grouped by why. The API answers such an operation with
UnsupportedOperationException carrying the reason, and docs/API.md lists it, so "not implemented"
is always explained, never a silent empty result. A served operation that leaves out part of
Rekognition's answer declares it the same way with `partly(...)`, and docs/API.md shows the note.
"""

from __future__ import annotations

_REASONS: dict[str, str] = {}
_LIMITS: dict[str, str] = {}


def unsupported(name: str, reason: str) -> None:
    if name in _REASONS:
        raise RuntimeError(f"operation {name} declared unsupported twice")
    _REASONS[name] = reason


def unsupported_reasons() -> dict[str, str]:
    """Declared reasons by operation name; import handler modules first (`registry()`)."""
    return dict(_REASONS)


def partly(name: str, note: str) -> None:
    """Declare what a served operation leaves out of Rekognition's answer, and why."""
    if name in _LIMITS:
        raise RuntimeError(f"operation {name} declared partly served twice")
    _LIMITS[name] = note


def served_limits() -> dict[str, str]:
    """Declared notes by served operation name; import handler modules first (`registry()`)."""
    return dict(_LIMITS)


# -- operations with no handler module, grouped by why ------------------------------------------
_NO_CELEBRITY_MODEL = (
    "no celebrity-recognition model or gallery ships in a PyPI, Debian or npm package"
)
_CUSTOM_LABELS = (
    "Custom Labels trains detectors on the caller's data; Oversight ships no trainable detector yet"
)
_NO_LIVENESS = (
    "face liveness needs an anti-spoofing model and a client-side video challenge; neither is "
    "evaluated here yet"
)
for _name in (
    "RecognizeCelebrities", "GetCelebrityInfo", "GetCelebrityRecognition",
    "StartCelebrityRecognition",
):
    unsupported(_name, _NO_CELEBRITY_MODEL)
for _name in (
    "CopyProjectVersion", "CreateDataset", "CreateProject", "CreateProjectVersion",
    "DeleteDataset", "DeleteProject", "DeleteProjectPolicy", "DeleteProjectVersion",
    "DescribeDataset", "DescribeProjectVersions", "DescribeProjects", "DetectCustomLabels",
    "DistributeDatasetEntries", "ListDatasetEntries", "ListDatasetLabels",
    "ListProjectPolicies", "PutProjectPolicy", "StartProjectVersion", "StopProjectVersion",
    "UpdateDatasetEntries",
):
    unsupported(_name, _CUSTOM_LABELS)
for _name in ("CreateFaceLivenessSession", "GetFaceLivenessSessionResults"):
    unsupported(_name, _NO_LIVENESS)
