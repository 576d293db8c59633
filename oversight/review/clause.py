"""The policy clause that puts a key's 1:N matches under human review.

    review: {"reviewers": 2, "operations": ["SearchFacesByImage"], "collections": ["watchlist"],
             "notify": "arn:aws:sns:us-east-1:123456789012:cases"}

`reviewers` distinct reviewer keys of the same account must confirm a match before it is released
(Article 14(5) of the EU AI Act asks for two); `operations` and `collections` narrow where the
clause applies (absent: every match-revealing operation, every collection). `notify` names an SNS
topic (mapped to a webhook by the operator's endpoint_map) told when each case closes: its id and
status only, never the identity, which the requester reads with GetReviewCase.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameterException

# The operation name under which a running stream processor's matches are judged and audited.
STREAM_MATCH = "StreamProcessorMatch"
# Operations whose answer identifies someone: the ones a review clause withholds.
WITHHELD_OPERATIONS = frozenset({
    "SearchFaces", "SearchFacesByImage", "SearchUsers", "SearchUsersByImage", "GetFaceSearch",
    STREAM_MATCH,
})
# Operations that identify someone in a way no case can hold back, refused under the clause:
# RedactFaces leaves each face matching its SpareCollectionId visible and names its FaceId.
REFUSED_OPERATIONS = frozenset({"RedactFaces"})
REVIEWABLE_OPERATIONS = WITHHELD_OPERATIONS | REFUSED_OPERATIONS
MAX_REVIEWERS = 2


@dataclass(frozen=True)
class ReviewClause:
    reviewers: int
    operations: tuple[str, ...] | None = None
    collections: tuple[str, ...] | None = None
    notify: str | None = None

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> ReviewClause | None:
        if value is None:
            return None
        reviewers = value.get("reviewers")
        if not isinstance(reviewers, int) or not 1 <= reviewers <= MAX_REVIEWERS:
            raise InvalidParameterException(
                f"review.reviewers must be 1 or {MAX_REVIEWERS}, not {reviewers!r}")
        operations = _names(value.get("operations"))
        if operations is not None and not set(operations) <= REVIEWABLE_OPERATIONS:
            unknown = ", ".join(sorted(set(operations) - REVIEWABLE_OPERATIONS))
            raise InvalidParameterException(
                f"review.operations may name only {', '.join(sorted(REVIEWABLE_OPERATIONS))}; "
                f"not {unknown}")
        notify = value.get("notify")
        if notify is not None and not (isinstance(notify, str) and notify.startswith("arn:")):
            raise InvalidParameterException(
                f"review.notify must be an SNS topic ARN, not {notify!r}")
        return cls(reviewers, operations, _names(value.get("collections")), notify)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reviewers": self.reviewers}
        if self.operations is not None:
            out["operations"] = list(self.operations)
        if self.collections is not None:
            out["collections"] = list(self.collections)
        if self.notify is not None:
            out["notify"] = self.notify
        return out

    def withholds(self, operation: str, collections: Iterable[str]) -> bool:
        """Whether this clause withholds `operation`'s matches in any of `collections`."""
        return operation in WITHHELD_OPERATIONS and self._covers(operation, collections)

    def refuses(self, operation: str, collections: Iterable[str]) -> bool:
        """Whether this clause refuses `operation` matching faces of any of `collections` (an
        operation that reaches no collection matches nobody)."""
        return operation in REFUSED_OPERATIONS and self._covers(operation, collections)

    def _covers(self, operation: str, collections: Iterable[str]) -> bool:
        reached = list(collections)
        if not reached or (self.operations is not None and operation not in self.operations):
            return False
        return self.collections is None or any(c in self.collections for c in reached)


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidParameterException(f"expected a list of names, not {value!r}")
    return tuple(value)
