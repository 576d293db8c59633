"""Every error a client can get is defined in oversight/errors.py, and its HTTP status agrees
with Rekognition's service model: 5xx exactly for the shapes botocore marks `fault`
(issue 17, item 5)."""

from __future__ import annotations

import importlib

import botocore.session
import pytest

from oversight import errors

# The raw model: botocore's Shape objects drop the `fault` flag.
SHAPES = botocore.session.get_session().get_component("data_loader").load_service_model(
    "rekognition", "service-2"
)["shapes"]


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def _error_classes() -> list[type[errors.RekognitionError]]:
    # The layers that raise errors to clients: the HTTP API (which imports every operation), the
    # console, and the CLI.
    for module in ("oversight.api.app", "oversight.console", "oversight.operations"):
        importlib.import_module(module)
    importlib.import_module("oversight.operations").registry()
    found = [errors.RekognitionError, *_all_subclasses(errors.RekognitionError)]
    return [cls for cls in found if not cls.__name__.startswith("_")]  # not abstract bases


ERROR_CLASSES = _error_classes()


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__qualname__)
def test_code_and_status_are_defined_in_errors_py(cls: type[errors.RekognitionError]) -> None:
    for attribute in ("code", "status"):
        owner = next(klass for klass in cls.__mro__ if attribute in vars(klass))
        assert owner.__module__ == errors.__name__, (
            f"{cls.__qualname__}.{attribute} is set in {owner.__module__}, not oversight.errors"
        )


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__qualname__)
def test_status_matches_the_service_models_fault_flag(cls: type[errors.RekognitionError]) -> None:
    shape = SHAPES.get(cls.code)
    if shape is None or not shape.get("exception"):
        # Protocol-level errors (signature, serialization, timeouts) are the caller's fault.
        assert 400 <= cls.status < 500, f"{cls.code} is not modelled yet answers {cls.status}"
        return
    fault = bool(shape.get("fault"))
    assert (cls.status >= 500) == fault, f"{cls.code}: status {cls.status}, fault={fault}"
    declared = shape.get("error", {}).get("httpStatusCode")
    if declared is not None:
        assert cls.status == declared

