"""A rate kept as its counts, so a report can say "0 of 170" instead of a bare 0.0."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    count: int
    total: int

    @property
    def value(self) -> float | None:
        """count / total, or None when nothing was measured (a rate of nothing is not 0)."""
        return self.count / self.total if self.total else None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"rate": self.value, "count": self.count, "total": self.total}
