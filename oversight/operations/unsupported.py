"""Operations Oversight deliberately does not provide, each with the reason a caller is told.

A handler module declares `unsupported("RecognizeCelebrities", "no model ships in a
package")` beside its handlers. The API answers such an operation with
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
