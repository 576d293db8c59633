"""Ways around human review, tried from outside against the session server (each identified a
probe for a key under a review clause, or failed it, on main 5a22cde):

- RedactFaces sparing the reviewed collection named the matched FaceId and Similarity, and left
  the face visible: now refused (AccessDeniedException, audited as rule `review`).
- SearchUsersByImage under review answered InternalServerError: now withheld like the others.
- A key under review watching the event stream of a processor that an unreviewed key started
  read every identity: the watcher's own clause now holds each event in a case of its own.
- ListReviewCases with MaxResults 0 paginated for ever.
- A reviewer's reason ("the same man as ...") reached the requester of an open or rejected case.
- A case whose matched faces were deleted (DeleteFaces, a retention rule added later) stayed
  open with the probe crop, and could still release the deleted identity.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from oversight.operations.context import LOCAL_ACCOUNT
from tests.api_server import (
    CONFORMANCE_STEPS,
    ApiServer,
    client,
    create_key,
    oversight_cli,
    signed_get,
    signed_post,
)
from tests.conftest import shared_path
from tests.video_helpers import BOY_IN_FIRST_FRAME, CROWD_CLIP, frame_jpeg

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


def _events(url: str, key: tuple[str, str], seconds: float) -> list[dict[str, Any]]:
    """The match events of a stream until it ends (the processor stopped) or `seconds` pass."""
    events, deadline = [], time.monotonic() + seconds
    with httpx.stream("GET", url, headers=signed_get(url, key, "door watch"),
                      timeout=seconds) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
            if time.monotonic() > deadline:
                break
    return events


def test_a_watcher_under_review_sees_cases_not_identities(
    api_server: ApiServer, rekognition: Any
) -> None:
    """The processor is started by the account's unreviewed key on the conformance camera (the
    crowd clip, once, in real time); a key of the same account under review watches it."""
    endpoints = json.loads(CONFORMANCE_STEPS.read_text())["endpoint_map"]
    assert endpoints["camera"][1] == CROWD_CLIP
    collection, name = f"door-{uuid.uuid4().hex[:8]}", f"door-{uuid.uuid4().hex[:8]}"
    rekognition.create_collection(CollectionId=collection)
    face_id = rekognition.index_faces(
        CollectionId=collection, MaxFaces=1,
        Image={"Bytes": frame_jpeg(shared_path(CROWD_CLIP), 0, BOY_IN_FIRST_FRAME)},
    )["FaceRecords"][0]["Face"]["FaceId"]
    rekognition.create_stream_processor(
        Name=name, RoleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/rekognition",
        Input={"KinesisVideoStream": {"Arn": endpoints["camera"][0]}},
        Output={"KinesisDataStream": {"Arn": endpoints["events"][0]}},
        Settings={"FaceSearch": {"CollectionId": collection, "FaceMatchThreshold": 90}})
    watcher, reviewer = create_key(api_server, LOCAL_ACCOUNT), create_key(api_server,
                                                                          LOCAL_ACCOUNT)
    _policy(api_server, watcher[0], "--review", "1", "--review-collection", collection)
    _policy(api_server, reviewer[0], "--reviewer")
    try:
        rekognition.start_stream_processor(Name=name)
        events = _events(f"{api_server.url}/stream-processors/{name}/events", watcher, 90)
    finally:
        with contextlib.suppress(ClientError):  # it stops by itself at the clip's end
            rekognition.stop_stream_processor(Name=name)
        rekognition.delete_stream_processor(Name=name)
    matched = [e for e in events if e.get("ReviewCaseId")]
    assert matched, f"no match reached the watcher: {events}"
    assert all(f["MatchedFaces"] == [] for e in events for f in e["FaceSearchResponse"])
    case = _call(api_server, reviewer, "GetReviewCase", CaseId=matched[0]["ReviewCaseId"]).json()
    assert case["RequesterAccessKeyId"] == watcher[0]
    assert [c["FaceId"] for c in case["Candidates"]] == [face_id]
    assert "live frame" in case["ProbeSource"]


def test_a_page_of_review_cases_is_never_empty(api_server: ApiServer, desk: dict[str, Any]) -> None:
    """MaxResults 0 answered an empty page and a NextToken to the same place, for ever (a
    paginating client never ended); it means the default page, as for ListFaces."""
    desk["rek"].search_faces_by_image(CollectionId="watch", Image={"Bytes": _photo(2)})
    page = _call(api_server, desk["keys"]["searcher"], "ListReviewCases", MaxResults=0).json()
    assert page["ReviewCases"] and "NextToken" not in page


def test_reasons_reach_the_requester_only_with_the_released_match(
    api_server: ApiServer, desk: dict[str, Any]
) -> None:
    answer = desk["rek"].search_faces_by_image(CollectionId="watch", Image={"Bytes": _photo(2)})
    case_id = answer["ResponseMetadata"]["HTTPHeaders"][CASE_HEADER]
    reason = "Not the man enrolled as hugo: another nose"
    decided = _call(api_server, desk["keys"]["reviewer"], "DecideReviewCase", CaseId=case_id,
                    Decision="REJECT", Reason=reason)
    assert decided.json()["Status"] == "REJECTED", decided.text
    mine = _call(api_server, desk["keys"]["searcher"], "GetReviewCase", CaseId=case_id)
    assert mine.json()["Decisions"][0]["Decision"] == "REJECT" and "hugo" not in mine.text


def test_a_case_whose_faces_are_deleted_expires(api_server: ApiServer,
                                                desk: dict[str, Any]) -> None:
    rek, collection = desk["rek"], f"erased-{uuid.uuid4().hex[:8]}"
    rek.create_collection(CollectionId=collection)
    face_id = rek.index_faces(CollectionId=collection, Image={"Bytes": _photo(1)},
                              MaxFaces=1)["FaceRecords"][0]["Face"]["FaceId"]
    answer = rek.search_faces_by_image(CollectionId=collection, Image={"Bytes": _photo(2)})
    case_id = answer["ResponseMetadata"]["HTTPHeaders"][CASE_HEADER]
    rek.delete_faces(CollectionId=collection, FaceIds=[face_id])
    swept = oversight_cli(api_server, "retention", "sweep")
    assert swept.returncode == 0, swept.stderr
    case = _call(api_server, desk["keys"]["reviewer"], "GetReviewCase", CaseId=case_id).json()
    assert case["Status"] == "EXPIRED" and "ProbeImage" not in case
    late = _call(api_server, desk["keys"]["reviewer"], "DecideReviewCase", CaseId=case_id,
                 Decision="CONFIRM", Reason="same man")
    assert late.json()["__type"] == "ResourceInUseException", late.text
