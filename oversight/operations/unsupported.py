"""Operations Oversight deliberately does not provide, each with the reason a caller is told.

A handler module declares `unsupported("DetectProtectiveEquipment", "no model ships in
a package")` beside its handlers. The API answers such an operation with
UnsupportedOperationException carrying the reason, and docs/API.md lists it, so "not implemented"
is always explained, never a silent empty result.
"""

from __future__ import annotations

_REASONS: dict[str, str] = {}


def unsupported(name: str, reason: str) -> None:
    if name in _REASONS:
        raise RuntimeError(f"operation {name} declared unsupported twice")
    _REASONS[name] = reason


def unsupported_reasons() -> dict[str, str]:
    """Declared reasons by operation name; import handler modules first (`registry()`)."""
    return dict(_REASONS)
