"""The wire contract: Rekognition's service model as shipped inside botocore, plus Oversight's
extension operations (`oversight/operations/extensions.json`, a fragment in the same format whose
shapes may reference Rekognition's own) and extension members of Rekognition's own shapes (its
"members" section), merged so both are validated the same way."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import botocore
import botocore.session
from botocore.model import OperationModel, ServiceModel

TARGET_PREFIX = "RekognitionService."
EXTENSIONS_FILE = Path(__file__).resolve().parents[1] / "operations" / "extensions.json"


@lru_cache(maxsize=1)
def _rekognition_model() -> dict[str, Any]:
    loader = botocore.session.get_session().get_component("data_loader")
    return loader.load_service_model("rekognition", "service-2")


def extension_operations() -> set[str]:
    """Names of the operations Oversight adds to Rekognition's."""
    return set(_extensions().get("operations", {}))


@lru_cache(maxsize=1)
def _extensions() -> dict[str, Any]:
    if not EXTENSIONS_FILE.is_file():
        return {}
    return json.loads(EXTENSIONS_FILE.read_text())


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    merged = copy.deepcopy(_rekognition_model())
    fragment = _extensions()
    for section in ("operations", "shapes"):
        clashes = set(fragment.get(section, {})) & set(merged[section])
        if clashes:
            raise RuntimeError(f"{EXTENSIONS_FILE.name} redefines Rekognition {section}: {clashes}")
        merged[section].update(fragment.get(section, {}))
    for shape, members in fragment.get("members", {}).items():
        clashes = set(members) & set(merged["shapes"][shape]["members"])
        if clashes:
            raise RuntimeError(f"{EXTENSIONS_FILE.name} redefines members of {shape}: {clashes}")
        merged["shapes"][shape]["members"].update(members)
    return ServiceModel(merged, service_name="rekognition")


def extension_members() -> dict[str, dict[str, str]]:
    """{shape: {member: documentation}} of the members Oversight adds to Rekognition's shapes."""
    return {shape: {name: member.get("documentation", "") for name, member in members.items()}
            for shape, members in _extensions().get("members", {}).items()}


def rekognition_operations() -> list[str]:
    """Operations of Rekognition itself (without Oversight's extensions), sorted."""
    return sorted(_rekognition_model()["operations"])


def operation_model(name: str) -> OperationModel | None:
    """The model of operation `name`, or None when neither Rekognition nor an extension has it."""
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


def model_version() -> str:
    """Which model: botocore's version and the API version it describes."""
    return f"botocore {botocore.__version__}, Rekognition API {service_model().api_version}"
