"""Shaping a finished job's stored results into a Get* page: sort order, aggregation, paging.

Results are stored whole as JSON; a page is a slice of the sorted list and NextToken is the
offset of the next slice (opaque and bound to the account, the job and the order, so a token from
another job or account is refused).
"""

from __future__ import annotations

from typing import Any

from ..collections.pagination import decode_token, encode_token
from ..rekognition import DEFAULT_PAGE_SIZE


def _sort_key(sort_by: str | None, entry: dict[str, Any], member: str) -> tuple[Any, ...]:
    timestamp = entry.get("Timestamp", entry.get("StartTimestampMillis", 0))
    if sort_by == "INDEX":
        return (entry.get("Person", {}).get("Index", 0), timestamp)
    if sort_by == "NAME":
        named = entry.get("Label") or entry.get("ModerationLabel") or {}
        return (named.get("Name", ""), timestamp)
    return (timestamp,)


def aggregate_segments(entries: list[dict[str, Any]], entry: str, gap_ms: int
                       ) -> list[dict[str, Any]]:
    """AggregateBy=SEGMENTS: one entry per run of a label seen at most `gap_ms` apart, with its
    start, end and duration, and the highest confidence of the run."""
    runs: dict[str, dict[str, Any]] = {}
    merged: list[dict[str, Any]] = []
    for item in sorted(entries, key=lambda e: e["Timestamp"]):
        name = item[entry]["Name"]
        run = runs.get(name)
        if run is not None and item["Timestamp"] - run["EndTimestampMillis"] <= gap_ms:
            run["EndTimestampMillis"] = item["Timestamp"]
            if item[entry]["Confidence"] > run[entry]["Confidence"]:
                run[entry] = item[entry]
            continue
        run = {"Timestamp": item["Timestamp"], entry: item[entry],
               "StartTimestampMillis": item["Timestamp"], "EndTimestampMillis": item["Timestamp"]}
        runs[name] = run
        merged.append(run)
    for run in merged:
        run["EndTimestampMillis"] += gap_ms // 2 if gap_ms else 0
        run["DurationMillis"] = run["EndTimestampMillis"] - run["StartTimestampMillis"]
    return merged


def page(
    account_id: str,
    job_id: str,
    entries: list[dict[str, Any]],
    member: str,
    request: dict[str, Any],
) -> dict[str, Any]:
    """{member: this page, NextToken?} for the request's MaxResults, NextToken and SortBy."""
    ordered = sorted(entries, key=lambda e: _sort_key(request.get("SortBy"), e, member))
    scope = ("job", account_id, job_id, request.get("SortBy") or "",
             request.get("AggregateBy") or "")
    start = decode_token(scope, request.get("NextToken"))
    # Get*'s MaxResults: at most the default page, which is also the largest.
    size = min(request.get("MaxResults") or DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE)
    out: dict[str, Any] = {member: ordered[start:start + size]}
    if start + size < len(ordered):
        out["NextToken"] = encode_token(scope, start + size)
    return out
