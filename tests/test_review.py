"""Human review of matches (issue 16) through the real server: a key under a review policy gets
no identity until two different reviewers confirm it; self-review is refused; a rejection closes
the case; every step is audited and the chain verifies; an expired case erases its probe crop
and leaves a receipt."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from oversight.api.service_model import operation_model
from oversight.api.validation import response_violations
from oversight.review.tables import cases
from tests.api_server import (
    ApiServer,
    client,
    create_key,
    oversight_cli,
    server_database,
    signed_post,
)
from tests.conftest import shared_path

LFW = "faces/krasserm_face-recognition/images"
CASE_HEADER = "x-oversight-review-case"


def photo(person: str, number: int) -> bytes:
    return shared_path(f"{LFW}/{person}/{person}_{number:04d}.jpg").read_bytes()


def extension(server: ApiServer, key: tuple[str, str], name: str, **request: Any) -> Any:
    """Call an Oversight extension operation signed by `key` (boto3 does not model them); every
    answer is checked against the operation's output shape in extensions.json."""
    answer = signed_post(server, json.dumps(request).encode(), f"RekognitionService.{name}", key)
    if answer.status_code == 200:
        assert response_violations(operation_model(name), answer.json()) == []
    return answer


def cli_ok(server: ApiServer, *args: str) -> str:
    done = oversight_cli(server, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def team(api_server: ApiServer) -> dict[str, tuple[str, str]]:
    """One account: a requester under a two-reviewer policy (itself a reviewer too, so that
    self-review is refused by the rule, not by the role), two reviewers, a key without the
    reviewer role; and a stranger from another account."""
    account = f"{uuid.uuid4().int % 10**12:012d}"
    keys = {name: create_key(api_server, account)
            for name in ("requester", "alice", "bob", "bystander")}
    keys["stranger"] = create_key(api_server)
    cli_ok(api_server, "policy", "set", keys["requester"][0], "--review", "2", "--reviewer")
    for name in ("alice", "bob"):
        cli_ok(api_server, "policy", "set", keys[name][0], "--reviewer")
    return keys


@pytest.fixture(scope="module")
def watchlist(api_server: ApiServer, team: dict[str, tuple[str, str]]) -> tuple[str, str]:
    rek = client(api_server, *team["requester"])
    collection = f"watchlist-{uuid.uuid4().hex[:8]}"
    rek.create_collection(CollectionId=collection)
    indexed = rek.index_faces(CollectionId=collection, Image={"Bytes": photo("Hugo_Chavez", 1)},
                              ExternalImageId="hugo", MaxFaces=1)
    return collection, indexed["FaceRecords"][0]["Face"]["FaceId"]


def _search(api_server: ApiServer, team: dict[str, tuple[str, str]],
            watchlist: tuple[str, str]) -> str:
    """A search that matches: the caller gets no identity, only the case."""
    rek = client(api_server, *team["requester"])
    answer = rek.search_faces_by_image(CollectionId=watchlist[0],
                                       Image={"Bytes": photo("Hugo_Chavez", 2)})
    assert answer["FaceMatches"] == []
    case_id = answer["ResponseMetadata"]["HTTPHeaders"][CASE_HEADER]
    return case_id


def _decide(api_server: ApiServer, key: tuple[str, str], case_id: str, decision: str) -> Any:
    return extension(api_server, key, "DecideReviewCase", CaseId=case_id, Decision=decision,
                     Reason=f"{decision.lower()}ed after comparing the faces side by side")


def test_no_identity_until_two_reviewers_confirm(
    api_server: ApiServer, team: dict[str, tuple[str, str]], watchlist: tuple[str, str]
) -> None:
    case_id = _search(api_server, team, watchlist)
    mine = extension(api_server, team["requester"], "GetReviewCase", CaseId=case_id).json()
    assert mine["Status"] == "OPEN" and "Released" not in mine and "Candidates" not in mine

    # The reviewer sees what to judge: the probe crop, the candidate and its reference crop.
    seen = extension(api_server, team["alice"], "GetReviewCase", CaseId=case_id).json()
    assert seen["ProbeImage"] and seen["Candidates"][0]["FaceId"] == watchlist[1]
    assert seen["Candidates"][0]["ReferenceImage"] and seen["Candidates"][0]["Similarity"] >= 80
    queue = extension(api_server, team["alice"], "ListReviewCases", Role="REVIEWER").json()
    assert case_id in [c["CaseId"] for c in queue["ReviewCases"]]

    refused = _decide(api_server, team["requester"], case_id, "CONFIRM")
    assert refused.status_code == 400, refused.text
    assert "cannot review a match they asked for" in refused.json()["Message"]

    assert _decide(api_server, team["alice"], case_id, "CONFIRM").json()["Status"] == "OPEN"
    again = _decide(api_server, team["alice"], case_id, "CONFIRM")
    assert again.json()["__type"] == "ResourceInUseException"
    still = extension(api_server, team["requester"], "GetReviewCase", CaseId=case_id).json()
    assert still["Confirmations"] == 1 and "Released" not in still

    assert _decide(api_server, team["bob"], case_id, "CONFIRM").json()["Status"] == "CONFIRMED"
    released = extension(api_server, team["requester"], "GetReviewCase", CaseId=case_id).json()
    assert released["Status"] == "CONFIRMED"
    assert [m["Face"]["FaceId"] for m in released["Released"]["FaceMatches"]] == [watchlist[1]]
    # Closed: the probe crop is gone.
    assert "ProbeImage" not in extension(
        api_server, team["alice"], "GetReviewCase", CaseId=case_id).json()


def test_one_rejection_closes_the_case(
    api_server: ApiServer, team: dict[str, tuple[str, str]], watchlist: tuple[str, str]
) -> None:
    case_id = _search(api_server, team, watchlist)
    assert _decide(api_server, team["bob"], case_id, "REJECT").json()["Status"] == "REJECTED"
    late = _decide(api_server, team["alice"], case_id, "CONFIRM")
    assert late.json()["__type"] == "ResourceInUseException"
    closed = extension(api_server, team["requester"], "GetReviewCase", CaseId=case_id).json()
    assert closed["Status"] == "REJECTED" and "Released" not in closed
    with server_database(api_server) as db:  # nothing left to release
        withheld = db.scalar(select(cases.c.withheld)
                             .where(cases.c.case_id == case_id))
    assert withheld == {}


def test_others_cannot_read_or_decide(
    api_server: ApiServer, team: dict[str, tuple[str, str]], watchlist: tuple[str, str]
) -> None:
    case_id = _search(api_server, team, watchlist)
    stranger = extension(api_server, team["stranger"], "GetReviewCase", CaseId=case_id)
    assert stranger.json()["__type"] == "ResourceNotFoundException"
    assert _decide(api_server, team["stranger"], case_id, "CONFIRM").status_code == 400
    for name in ("GetReviewCase", "DecideReviewCase"):  # same account, no reviewer role
        request = {"CaseId": case_id, "Decision": "CONFIRM", "Reason": "looks alike"}
        if name == "GetReviewCase":
            request = {"CaseId": case_id}
        answer = extension(api_server, team["bystander"], name, **request)
        assert answer.json()["__type"] == "AccessDeniedException", answer.text


def test_expired_case_erases_its_probe_and_leaves_a_receipt(
    api_server: ApiServer, team: dict[str, tuple[str, str]], watchlist: tuple[str, str]
) -> None:
    case_id = _search(api_server, team, watchlist)
    # Move the case's expiry into the past, as time would.
    with server_database(api_server) as db:
        db.execute(update(cases).where(cases.c.case_id == case_id)
                   .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    swept = json.loads(cli_ok(api_server, "retention", "sweep"))
    assert swept["ReviewCasesExpired"] >= 1
    expired = extension(api_server, team["alice"], "GetReviewCase", CaseId=case_id).json()
    assert expired["Status"] == "EXPIRED" and "ProbeImage" not in expired
    assert _decide(api_server, team["alice"], case_id, "CONFIRM").status_code == 400

    records = [json.loads(line) for line in cli_ok(api_server, "audit", "export").splitlines()
               if case_id in line]
    actions = [r.get("action") for r in records if r.get("kind") == "review"]
    assert actions[0] == "OpenReviewCase" and actions[-1] == "ExpireReviewCase"
    assert any(r.get("review_case") == case_id for r in records if r.get("kind") == "operation")
    cli_ok(api_server, "audit", "verify")


def test_transparency_report_counts_cases_and_rejections(
    api_server: ApiServer, team: dict[str, tuple[str, str]], watchlist: tuple[str, str]
) -> None:
    """After the tests above: 4 cases opened on the watch list, 1 confirmed, 1 rejected (half the
    decided matches), 1 expired."""
    today = datetime.now(UTC).date().isoformat()
    report = json.loads(cli_ok(api_server, "report", "--from", today, "--to", today,
                               "--format", "json"))
    rows = [row for row in report["ReviewCases"] if row["Collection"] == watchlist[0]]
    totals = {k: sum(row[k] for row in rows)
              for k in ("Opened", "Confirmed", "Rejected", "Expired")}
    assert totals == {"Opened": 4, "Confirmed": 1, "Rejected": 1, "Expired": 1}
    assert report["Totals"]["ReviewCasesOpened"] >= 4
    assert "%" in report["Totals"]["MatchesRejectedByReviewers"]


def test_a_closed_case_tells_the_requesters_topic_without_the_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The optional release webhook (`review.notify`): the case id and how it closed; the
    requester reads the identity with GetReviewCase, under the same governance."""
    from oversight.api.calls import governed_call
    from oversight.config import settings
    from oversight.governance.policy import Policy, put_policy
    from oversight.operations.context import RequestContext
    from oversight.review.cases import NewCase, open_case
    from tests.video_helpers import webhook_receiver

    account, requester, reviewer = "123456789012", "AKIAREQUESTER0000001", "AKIAREVIEWER00000001"
    topic = f"arn:aws:sns:us-east-1:{account}:review-cases"
    match = {"Similarity": 99.1, "Face": {"FaceId": str(uuid.uuid4()), "ExternalImageId": "x"}}
    with webhook_receiver() as hook:
        monkeypatch.setenv("OVERSIGHT_ENDPOINT_MAP", f"{topic}={hook.url}")
        settings.cache_clear()
        put_policy(Policy(requester, review={"reviewers": 1, "notify": topic}))
        put_policy(Policy(reviewer, reviewer=True))
        case_id = open_case(NewCase(
            account_id=account, requester_key=requester, purpose="case 9", operation="SearchFaces",
            request_id=None, collection_id="watch", withheld={"FaceMatches": [match]},
            candidates=[{"FaceId": match["Face"]["FaceId"], "Similarity": 99.1}],
            probe_crop=None, probe_source=None, reviewers_required=1,
            expires_at=datetime.now(UTC) + timedelta(hours=1)), lambda _: None)
        governed_call("DecideReviewCase", {"CaseId": case_id, "Decision": "CONFIRM",
                                           "Reason": "same person"},
                      RequestContext(account_id=account, access_key_id=reviewer))
        (told,) = hook.wait_for(1, 10)
    assert told == {"ReviewCaseId": case_id, "Status": "CONFIRMED", "CollectionId": "watch",
                    "Operation": "SearchFaces"}
