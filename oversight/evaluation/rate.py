"""A rate kept as its counts, so a report can say "0 of 170" instead of a bare 0.0, with the
Wilson score interval that says how far a small group's rate can be trusted."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Two-sided 95 % normal quantile.
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    count: int
    total: int

    @property
    def value(self) -> float | None:
        """count / total, or None when nothing was measured (a rate of nothing is not 0)."""
        return self.count / self.total if self.total else None

    def interval(self, z: float = _Z95) -> tuple[float, float] | None:
        """Wilson score interval (95 % by default). Unlike count/total +- a normal error it
        stays inside [0, 1] and gives 0 of n an upper bound of about 3.8/n rather than 0, which
        is what keeps a group with few pairs from reading as a group without false matches."""
        if not self.total:
            return None
        n, p = self.total, self.count / self.total
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        # At 0 (or all) of n the bound is exact; the formula leaves rounding dust there.
        low = 0.0 if self.count == 0 else max(0.0, centre - half)
        high = 1.0 if self.count == n else min(1.0, centre + half)
        return low, high

    def as_dict(self) -> dict[str, float | int | None]:
        return {"rate": self.value, "count": self.count, "total": self.total}

    def with_interval(self) -> dict[str, float | int | None]:
        """`as_dict` plus the 95 % interval as `low` and `high`."""
        interval = self.interval()
        return {**self.as_dict(), "low": None if interval is None else interval[0],
                "high": None if interval is None else interval[1]}
