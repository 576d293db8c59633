"""Every handler written for one operation is named after it (DetectLabels -> detect_labels), so
a reader finds the code behind an operation by its name (issue 17, item 4). Handlers a factory
makes for a family of operations (video's Start*/Get*) are exempt."""

from __future__ import annotations

import re

from oversight import operations


def test_each_handler_is_named_after_its_operation() -> None:
    misnamed = {
        name: handler.__name__
        for name, handler in operations.registry().items()
        if "<locals>" not in handler.__qualname__
        and handler.__name__ != re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    }
    assert misnamed == {}
