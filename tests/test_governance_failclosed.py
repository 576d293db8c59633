"""Fail closed (issue 12, finding 6): a change whose audit record cannot be written does not
happen, and every deletion receipt names the key and the request that asked for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from oversight.api.keys import KeyStore
from oversight.config import settings
from oversight.errors import InternalServerError
from oversight.governance import admin, gate
from oversight.governance.audit import AuditLog
from oversight.governance.catalog import state_changing_operations
from oversight.governance.policy import Policy, get_policy
from oversight.governance.retention import RetentionRule, list_rules, sweep
from oversight.operations import call
from oversight.operations.context import LOCAL_ACCOUNT, RequestContext
from tests.api_server import ApiServer, oversight_cli, server_audit_log
from tests.audit_storage import unwritable_audit_log
from tests.conftest import shared_path

FACES = "faces/face-api.js/examples/images/bbt2.jpg"


def _fails_with_500(action: Any) -> None:
    with pytest.raises(ClientError) as caught:
        action()
    assert caught.value.response["Error"]["Code"] == "InternalServerError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def _face_ids(rekognition: Any, collection: str) -> list[str]:
    return sorted(f["FaceId"] for f in rekognition.list_faces(CollectionId=collection)["Faces"])


def test_no_change_without_its_record_over_http(api_server: ApiServer, rekognition: Any) -> None:
    image = shared_path(FACES).read_bytes()
    collection, fresh = f"failclosed-{uuid.uuid4().hex[:8]}", f"never-{uuid.uuid4().hex[:8]}"
    arn = rekognition.create_collection(CollectionId=collection)["CollectionArn"]
    indexed = rekognition.index_faces(CollectionId=collection, Image={"Bytes": image}, MaxFaces=2)
    face_ids = sorted(r["Face"]["FaceId"] for r in indexed["FaceRecords"])
    assert len(face_ids) == 2

    with unwritable_audit_log(api_server.data_dir, api_server.store_url):
        _fails_with_500(lambda: rekognition.index_faces(
            CollectionId=collection, Image={"Bytes": image}))
        _fails_with_500(lambda: rekognition.delete_faces(
            CollectionId=collection, FaceIds=face_ids[:1]))
        _fails_with_500(lambda: rekognition.delete_collection(CollectionId=collection))
        _fails_with_500(lambda: rekognition.create_collection(CollectionId=fresh))
        _fails_with_500(lambda: rekognition.create_user(CollectionId=collection, UserId="u1"))
        _fails_with_500(lambda: rekognition.tag_resource(ResourceArn=arn, Tags={"k": "v"}))

    # Nothing changed: the same faces, no new collection, user or tag.
    assert _face_ids(rekognition, collection) == face_ids
    assert fresh not in rekognition.list_collections()["CollectionIds"]
    assert rekognition.list_users(CollectionId=collection)["Users"] == []
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}

    # With the log back, a deletion leaves a receipt naming the key and the request.
    deleted = rekognition.delete_faces(CollectionId=collection, FaceIds=face_ids[:1])
    request_id = deleted["ResponseMetadata"]["RequestId"]
    log = server_audit_log(api_server)
    (receipt,) = [r for r in log.records()
                  if r["kind"] == "deletion" and r.get("request_id") == request_id]
    assert receipt["key"] == api_server.access_key_id and receipt["face_ids"] == face_ids[:1]
    intent, outcome = [r for r in log.records() if r.get("request_id") == request_id
                       and r["kind"] in ("intent", "operation")]
    assert (intent["kind"], outcome["kind"], outcome["outcome"]) == ("intent", "operation", "ok")
    rekognition.delete_collection(CollectionId=collection)
    verified = oversight_cli(api_server, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_every_state_changing_operation_is_refused_before_it_runs(isolated_data_dir: Path) -> None:
    """The gate writes each state-changing operation's intent before the handler runs; when it
    cannot, the operation is refused and its handler never called."""
    ctx = RequestContext(account_id="123456789012", access_key_id="AKIAFAILCLOSED000001")
    with unwritable_audit_log(isolated_data_dir, settings().sqlalchemy_url):
        for operation in state_changing_operations():
            with pytest.raises(InternalServerError):
                gate.admit(ctx, operation, {"CollectionId": "c"})
        # Read-only operations are admitted (their record is written after they run, before
        # any result leaves).
        gate.admit(ctx, "ListCollections", {})


def test_retention_deletes_nothing_without_receipts(isolated_data_dir: Path) -> None:
    call("CreateCollection", {"CollectionId": "visitors"})
    image = shared_path(FACES).read_bytes()
    call("IndexFaces", {"CollectionId": "visitors", "Image": {"Bytes": image}, "MaxFaces": 2})
    admin.set_retention(RequestContext.local(), RetentionRule(LOCAL_ACCOUNT, "visitors", 1))
    later = datetime.now(UTC) + timedelta(days=2)
    with (unwritable_audit_log(isolated_data_dir, settings().sqlalchemy_url),
          pytest.raises(InternalServerError)):
        sweep(now=later)
    assert len(call("ListFaces", {"CollectionId": "visitors"})["Faces"]) == 2

    (result,) = sweep(now=later)
    assert result.deleted == 2
    (receipt,) = [r for r in AuditLog().records() if r["kind"] == "deletion"]
    assert receipt["key"] is None and receipt["request_id"].startswith("retention-sweep-")
    assert AuditLog().verify().ok


def test_admin_changes_are_undone_without_their_record(isolated_data_dir: Path) -> None:
    local, key = RequestContext.local(), "AKIAFAILCLOSED000002"
    admin.set_policy(local, Policy(key, max_faces=3))
    store = KeyStore.default()

    def record(_: object) -> None:
        gate.audit_admin_event(local, "CreateAccessKey", "x")

    existing = store.create(record=record).key
    with unwritable_audit_log(isolated_data_dir, settings().sqlalchemy_url):
        for change in (
            lambda: admin.set_policy(local, Policy(key, max_faces=1)),
            lambda: admin.remove_policy(local, key),
            lambda: admin.set_retention(local, RetentionRule(LOCAL_ACCOUNT, "c", 5)),
            lambda: store.create(record=record),
            lambda: store.revoke(existing.access_key_id, record),
        ):
            with pytest.raises(InternalServerError):
                change()
    assert get_policy(key) == Policy(key, max_faces=3) and list_rules() == []
    assert [k.active for k in store.list()] == [True]
    assert AuditLog().verify().ok
