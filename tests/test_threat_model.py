"""docs/THREAT_MODEL.md names the test guarding each boundary: every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `tests/test_x.py::test_y`, `test_x.py::test_y`, `tests/test_x.py` or a bare `test_y` (of the
# file named last on the same line).
_REFERENCE = re.compile(r"`(?:tests/)?(test_\w+\.py)?(?:::)?(test_\w+)?`")


def named_tests(text: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        current = None
        for match in _REFERENCE.finditer(line):
            module, function = match.groups()
            current = module or current
            if current is not None and (module or function):
                found.append((current, function))
    return found


def test_every_test_the_threat_model_names_exists() -> None:
    references = named_tests((ROOT / "docs" / "THREAT_MODEL.md").read_text())
    assert len(references) > 40
    missing = []
    for module, function in references:
        path = ROOT / "tests" / module
        if not path.exists() or (
            function and not re.search(rf"^def {function}\(", path.read_text(), re.MULTILINE)
        ):
            missing.append(f"{module}::{function}")
    assert missing == []
