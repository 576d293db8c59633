"""Retention sweeps expired faces from store and index; every deletion leaves a receipt."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from oversight.errors import InvalidParameterException
from oversight.governance import admin
from oversight.governance.audit import AuditLog
from oversight.governance.receipts import watch_deletions
from oversight.governance.retention import RetentionRule, list_rules, start_sweeper, sweep
from oversight.operations import call
from oversight.operations.context import LOCAL_ACCOUNT, RequestContext
from tests.conftest import shared_path

GROUP = "faces/face-api.js/examples/images/bbt2.jpg"


def _index(collection: str) -> tuple[bytes, list[str]]:
    image = shared_path(GROUP).read_bytes()
    call("CreateCollection", {"CollectionId": collection})
    response = call("IndexFaces", {"CollectionId": collection, "Image": {"Bytes": image}})
    face_ids = [record["Face"]["FaceId"] for record in response["FaceRecords"]]
    assert len(face_ids) >= 2
    return image, face_ids


def _receipts() -> list[dict]:
    return [r for r in AuditLog().records() if r["kind"] == "deletion"]


def test_sweep_deletes_expired_faces_and_leaves_receipts() -> None:
    image, face_ids = _index("visitors")
    _, kept_ids = _index("staff")  # no rule: never swept
    admin.set_retention(RequestContext.local(), RetentionRule(LOCAL_ACCOUNT, "visitors", 30))
    assert list_rules() == [RetentionRule(LOCAL_ACCOUNT, "visitors", 30)]

    (fresh,) = sweep(now=datetime.now(UTC) + timedelta(days=29))
    assert fresh.deleted == 0 and _receipts() == []

    (expired,) = sweep(now=datetime.now(UTC) + timedelta(days=31))
    assert expired.deleted == len(face_ids)
    (receipt,) = _receipts()
    assert receipt["reason"] == "retention" and receipt["collection"] == "visitors"
    assert sorted(receipt["face_ids"]) == sorted(face_ids)
    assert receipt["count"] == len(face_ids)
    # Gone from the store and from the index: never returned again.
    assert call("ListFaces", {"CollectionId": "visitors"})["Faces"] == []
    found = call("SearchFacesByImage", {
        "CollectionId": "visitors", "Image": {"Bytes": image}, "FaceMatchThreshold": 0,
    })
    assert found["FaceMatches"] == []
    assert len(call("ListFaces", {"CollectionId": "staff"})["Faces"]) == len(kept_ids)
    assert AuditLog().verify().ok


def test_api_and_collection_deletions_leave_receipts() -> None:
    watch_deletions()
    _, face_ids = _index("events")
    call("DeleteFaces", {"CollectionId": "events", "FaceIds": face_ids[:1]})
    call("DeleteCollection", {"CollectionId": "events"})
    single, whole = _receipts()
    assert single["face_ids"] == face_ids[:1] and single["reason"] == "DeleteFaces"
    assert whole["collection_deleted"] is True and whole["count"] == len(face_ids) - 1


def test_sweep_skips_missing_collections_and_rejects_bad_ages() -> None:
    admin.set_retention(RequestContext.local(), RetentionRule(LOCAL_ACCOUNT, "gone", 1))
    (result,) = sweep()
    assert result.skipped and result.deleted == 0
    with pytest.raises(InvalidParameterException, match="more than 0 days"):
        admin.set_retention(RequestContext.local(), RetentionRule(LOCAL_ACCOUNT, "x", 0))


def test_background_sweeper_sweeps_at_start() -> None:
    _, face_ids = _index("lobby")
    rule = RetentionRule(LOCAL_ACCOUNT, "lobby", 1e-9)  # every face is already older
    admin.set_retention(RequestContext.local(), rule)
    stop = start_sweeper(interval_seconds=3600)
    try:
        deadline = time.monotonic() + 60
        while call("ListFaces", {"CollectionId": "lobby"})["Faces"] and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop()
    assert call("ListFaces", {"CollectionId": "lobby"})["Faces"] == []
    assert sorted(_receipts()[0]["face_ids"]) == sorted(face_ids)
