"""Ways around human review, tried from outside against the session server (each identified a
probe for a key under a review clause, or failed it, on main 5a22cde):

- RedactFaces sparing the reviewed collection named the matched FaceId and Similarity, and left
  the face visible: now refused (AccessDeniedException, audited as rule `review`).
- SearchUsersByImage under review answered InternalServerError: now withheld like the others.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.api_server import (
    ApiServer,
    client,
    create_key,
    oversight_cli,
    signed_post,
)
from tests.conftest import shared_path

LFW = "faces/krasserm_face-recognition/images"
CASE_HEADER = "x-oversight-review-case"


def _photo(number: int) -> bytes:
    return shared_path(f"{LFW}/Hugo_Chavez/Hugo_Chavez_{number:04d}.jpg").read_bytes()


def _policy(server: ApiServer, key: str, *args: str) -> None:
    done = oversight_cli(server, "policy", "set", key, *args)
    assert done.returncode == 0, done.stderr


def _call(server: ApiServer, key: tuple[str, str], name: str, **request: Any) -> Any:
    return signed_post(server, json.dumps(request).encode(), f"RekognitionService.{name}", key)


@pytest.fixture(scope="module")
def desk(api_server: ApiServer) -> dict[str, Any]:
    """An account whose searcher is under a one-reviewer clause, a reviewer, and a watch list
    holding one person as a face and as a user."""
    account = f"{uuid.uuid4().int % 10**12:012d}"
    keys = {name: create_key(api_server, account) for name in ("searcher", "reviewer")}
    _policy(api_server, keys["searcher"][0], "--review", "1")
    _policy(api_server, keys["reviewer"][0], "--reviewer")
    rek = client(api_server, *keys["searcher"])
    rek.create_collection(CollectionId="watch")
    face_id = rek.index_faces(CollectionId="watch", Image={"Bytes": _photo(1)}, MaxFaces=1,
                              ExternalImageId="hugo")["FaceRecords"][0]["Face"]["FaceId"]
    rek.create_user(CollectionId="watch", UserId="hugo")
    rek.associate_faces(CollectionId="watch", UserId="hugo", FaceIds=[face_id])
    return {"keys": keys, "rek": rek, "face_id": face_id}


def test_redact_sparing_a_reviewed_collection_is_refused(
    api_server: ApiServer, desk: dict[str, Any]
) -> None:
    import base64

    image = {"Bytes": base64.b64encode(_photo(2)).decode()}
    spared = _call(api_server, desk["keys"]["searcher"], "RedactFaces", Image=image,
                   SpareCollectionId="watch")
    assert spared.json().get("__type") == "AccessDeniedException", spared.text[:300]
    assert desk["face_id"] not in spared.text and "human review" in spared.json()["Message"]
    # Redacting every face identifies nobody: still allowed.
    plain = _call(api_server, desk["keys"]["searcher"], "RedactFaces", Image=image)
    assert plain.status_code == 200 and plain.json()["RedactedFaces"]


def test_search_users_by_image_is_withheld_for_review(
    api_server: ApiServer, desk: dict[str, Any]
) -> None:
    answer = desk["rek"].search_users_by_image(CollectionId="watch", Image={"Bytes": _photo(2)})
    assert answer["UserMatches"] == []
    case_id = answer["ResponseMetadata"]["HTTPHeaders"][CASE_HEADER]
    case = _call(api_server, desk["keys"]["reviewer"], "GetReviewCase", CaseId=case_id).json()
    assert case["ProbeImage"] and [c["UserId"] for c in case["Candidates"]] == ["hugo"]
