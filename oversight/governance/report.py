"""The transparency report: what the audit log says about face recognition use in a period.

Every figure is counted from audit records, and the report states whether the chain verified, so
a reader knows the figures come from an untampered log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..rekognition import DEFAULT_MATCH_THRESHOLD
from .audit import GENESIS, AuditLog, Head, Record, record_time
from .records import now_iso

# Operations that compare faces against other faces: what the public asks about.
SEARCH_OPERATIONS = frozenset({
    "SearchFaces", "SearchFacesByImage", "SearchUsers", "SearchUsersByImage", "CompareFaces",
    "StartFaceSearch", "CreateStreamProcessor",
})
_THRESHOLD_PARAMETERS = ("FaceMatchThreshold", "SimilarityThreshold", "UserMatchThreshold")


def parse_bound(text: str, end: bool = False) -> datetime:
    """A report bound: an ISO date (a whole day; `end` includes it) or an ISO date-time."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _in_period(
    records: Iterable[dict[str, Any]], start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    for record in records:
        moment = record_time(record)
        if moment is not None and start <= moment < end:
            yield record


def _is_search(record: dict[str, Any]) -> bool:
    if record.get("operation") not in SEARCH_OPERATIONS:
        return False
    # A stream processor only searches when it was created with a collection to search.
    return record["operation"] != "CreateStreamProcessor" or bool(record.get("collection"))


def _threshold(record: dict[str, Any]) -> str:
    parameters = record.get("parameters", {})
    for name in _THRESHOLD_PARAMETERS:
        if name in parameters:
            return f"{float(parameters[name]):g}"
    return f"default ({DEFAULT_MATCH_THRESHOLD:g})"


def _rows(counter: Counter, names: tuple[str, ...], value: str) -> list[dict[str, Any]]:
    return [
        {**dict(zip(names, key, strict=True)), value: count}
        for key, count in sorted(counter.items(), key=lambda item: tuple(map(str, item[0])))
    ]


# What happened to human-review cases, from their audit records (governance/review.py).
_REVIEW_OUTCOMES = ("Opened", "Confirmed", "Rejected", "Expired")


def _review_outcome(record: dict[str, Any]) -> str | None:
    action = record.get("action")
    if action == "OpenReviewCase":
        return "Opened"
    if action == "ExpireReviewCase":
        return "Expired"
    if action == "DecideReviewCase":  # only the decision that settles a case counts
        return {"CONFIRMED": "Confirmed", "REJECTED": "Rejected"}.get(record.get("status", ""))
    return None


def _review_rows(reviews: dict[str, Counter]) -> list[dict[str, Any]]:
    groups = sorted({key for counter in reviews.values() for key in counter},
                    key=lambda key: tuple(map(str, key)))
    return [{"Month": month, "Collection": collection, "Purpose": purpose,
             **{outcome: reviews[outcome][(month, collection, purpose)]
                for outcome in _REVIEW_OUTCOMES}}
            for month, collection, purpose in groups]


def _rejected_share(reviews: dict[str, Counter]) -> str:
    """The share of reviewed matches people rejected: the false-match rate met in operation."""
    rejected = sum(reviews["Rejected"].values())
    decided = rejected + sum(reviews["Confirmed"].values())
    return f"{rejected} of {decided}" + (f" ({100 * rejected / decided:.0f} %)" if decided else "")


def account_records(log: AuditLog, account_id: str) -> list[Record]:
    """The records of one account (tenant), in order."""
    return [r for r in log.records(skip_unreadable=True) if r.get("account") == account_id]


def account_verdict(
    log: AuditLog, account_id: str, mine: list[Record] | None = None
) -> dict[str, Any]:
    """What an account's key holders may know of the chain: whether it verifies, and how many
    records and which last record (its head) are their account's; nothing of other tenants."""
    verdict = log.verify()
    mine = account_records(log, account_id) if mine is None else mine
    head = Head(mine[-1]["seq"], mine[-1]["hash"]) if mine else Head(0, GENESIS)
    out: dict[str, Any] = {
        "Valid": verdict.ok, "Account": account_id, "Records": len(mine), "Head": head.to_json(),
    }
    if verdict.problem:
        out["Problem"] = verdict.problem
    return out


def build_report(
    start: datetime, end: datetime, log: AuditLog | None = None, account_id: str | None = None
) -> dict[str, Any]:
    """The report of every tenant (the local operator's `oversight report`), or of one account
    (what the console shows a key holder: only the account's own records)."""
    log = log or AuditLog()
    if account_id is None:
        integrity, records = log.verify().to_json(), log.records(skip_unreadable=True)
    else:
        mine = account_records(log, account_id)
        integrity, records = account_verdict(log, account_id, mine), iter(mine)
    searches: Counter = Counter()
    matches: Counter = Counter()
    monthly: Counter = Counter()
    monthly_matches: Counter = Counter()
    thresholds: Counter = Counter()
    refusals: Counter = Counter()
    deletions: Counter = Counter()
    operations: Counter = Counter()
    errors: Counter = Counter()
    stream_frames: Counter = Counter()
    stream_matches: Counter = Counter()
    reviews: dict[str, Counter] = {outcome: Counter() for outcome in _REVIEW_OUTCOMES}
    admin = refused = 0
    for record in _in_period(records, start, end):
        kind, month = record.get("kind"), record["time"][:7]
        if kind == "admin":
            admin += 1
            continue
        if kind == "intent":
            continue  # the operation's own record counts it
        if kind in ("refused", "refused_summary"):
            refused += record.get("count", 1)
            continue
        if kind == "deletion":
            deletions[(record.get("reason"), record.get("collection"))] += record.get("count", 0)
            continue
        if kind == "review":
            outcome = _review_outcome(record)
            if outcome is not None:
                reviews[outcome][(month, record.get("collection"),
                                  record.get("case_purpose", record.get("purpose")))] += 1
            continue
        if kind == "stream_match":
            # One record per video frame with matches, written by a running stream processor.
            group = (record.get("account"), record.get("key"), record.get("purpose"),
                     record.get("stream_processor"), month)
            stream_frames[group] += 1
            stream_matches[group] += len(record.get("matches", []))
            continue
        operation = record.get("operation")
        operations[(operation,)] += 1
        if record.get("outcome") != "ok":
            errors[(operation,)] += 1
        if record.get("refused_by"):
            refusals[(record.get("key"), record["refused_by"])] += 1
            continue
        if _is_search(record) and record.get("outcome") == "ok":
            group = (record.get("account"), record.get("key"), record.get("purpose"), month)
            found = len(record.get("matches", []))
            searches[group] += 1
            matches[group] += found
            monthly[(month,)] += 1
            monthly_matches[(month,)] += found
            thresholds[(operation, _threshold(record))] += 1
    search_rows = _rows(searches, ("Account", "Key", "Purpose", "Month"), "Searches")
    for row in search_rows:
        row["Matches"] = matches[(row["Account"], row["Key"], row["Purpose"], row["Month"])]
    month_rows = _rows(monthly, ("Month",), "Searches")
    for row in month_rows:
        row["Matches"] = monthly_matches[(row["Month"],)]
    stream_rows = _rows(
        stream_frames, ("Account", "Key", "Purpose", "StreamProcessor", "Month"), "Frames"
    )
    for row in stream_rows:
        row["Matches"] = stream_matches[tuple(row[c] for c in (
            "Account", "Key", "Purpose", "StreamProcessor", "Month"))]
    review_rows = _review_rows(reviews)
    operation_rows = _rows(operations, ("Operation",), "Requests")
    for row in operation_rows:
        row["Errors"] = errors[(row["Operation"],)]
    return {
        "From": start.isoformat(),
        "To": end.isoformat(),
        "GeneratedAt": now_iso(),
        "AuditLog": integrity,
        "Totals": {
            "Requests": sum(operations.values()),
            "Searches": sum(searches.values()),
            "Matches": sum(matches.values()),
            "LiveStreamMatches": sum(stream_matches.values()),
            "PolicyRefusals": sum(refusals.values()),
            "FacesDeleted": sum(deletions.values()),
            "AdminChanges": admin,
            # Requests answered before the gate: bad signature, unknown key, invalid input.
            "RefusedBeforeAdmission": refused,
            **{f"ReviewCases{outcome}": sum(reviews[outcome].values())
               for outcome in _REVIEW_OUTCOMES},
            "MatchesRejectedByReviewers": _rejected_share(reviews),
        },
        "SearchesByMonth": month_rows,
        "Searches": search_rows,
        "LiveStreamMatches": stream_rows,
        "Thresholds": _rows(thresholds, ("Operation", "Threshold"), "Searches"),
        "PolicyRefusals": _rows(refusals, ("Key", "Rule"), "Refusals"),
        "Deletions": _rows(deletions, ("Reason", "Collection"), "Faces"),
        "ReviewCases": review_rows,
        "Operations": operation_rows,
    }
