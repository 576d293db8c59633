"""docs/API.md must say what the code does: it is generated, and this fails when it drifts."""

from __future__ import annotations

from pathlib import Path

import pytest

from oversight.api.coverage import render_api_docs
from oversight.api.service_model import model_version, rekognition_operations

API_DOCS = Path(__file__).resolve().parents[1] / "docs" / "API.md"
REGENERATE = "docs/API.md is stale: run `oversight api-docs > docs/API.md` and commit it"


def _rows(text: str) -> dict[str, str]:
    return {
        line.split("|")[1].strip(): line
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| Operation ")
    }


def test_committed_api_docs_match_the_code() -> None:
    committed = API_DOCS.read_text()
    generated = render_api_docs()
    if model_version() in committed:
        assert committed == generated, REGENERATE
        return
    # Another botocore release may add operations; what Oversight serves must still match.
    committed_rows = _rows(committed)
    for name, row in _rows(generated).items():
        if "| not implemented |" not in row:
            assert committed_rows.get(name) == row, f"{REGENERATE} ({name})"


def test_rows_follow_the_registry_and_declared_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    from oversight import operations
    from oversight.operations import unsupported

    operations.registry()  # import handler modules first, as the docs command does
    monkeypatch.setitem(operations._REGISTRY, "GetCelebrityInfo", lambda request, ctx: {})
    monkeypatch.setitem(unsupported._REASONS, "CreateDataset", "custom labels need training")
    rows = _rows(render_api_docs())
    assert set(rekognition_operations()) <= set(rows)
    assert rows["GetCelebrityInfo"] == "| GetCelebrityInfo | implemented |  |"
    assert rows["CreateDataset"] == "| CreateDataset | unsupported | custom labels need training |"
