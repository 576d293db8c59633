"""Rekognition operations Oversight does not serve, grouped by why (listed in docs/API.md)."""

from __future__ import annotations

from .unsupported import unsupported

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
