"""Collection, face, user and tag operations in-process, on real photos, against both stores."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from oversight.errors import (
    ConflictException,
    IdempotentParameterMismatchException,
    InvalidImageFormatException,
    InvalidPaginationTokenException,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from oversight.operations import RequestContext, call
from tests.conftest import shared_path

LFW = "faces/krasserm_face-recognition/images"


def photo(person: str, number: int) -> dict[str, bytes]:
    return {"Bytes": shared_path(f"{LFW}/{person}/{person}_{number:04d}.jpg").read_bytes()}


def image(relative: str) -> dict[str, bytes]:
    return {"Bytes": shared_path(relative).read_bytes()}


# The tests that search also run in cluster mode: PostgreSQL with the vectors in Milvus.
ALL_STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
              pytest.param("milvus", marks=pytest.mark.postgres)]


@pytest.fixture
def ctx(store_url: str, account: str) -> RequestContext:
    return RequestContext(account_id=account)


def op(name: str, ctx: RequestContext, **request: Any) -> dict[str, Any]:
    return call(name, request, ctx)


def index(ctx: RequestContext, person: str, number: int, **extra: Any) -> dict[str, Any]:
    return op(
        "IndexFaces",
        ctx,
        CollectionId="people",
        Image=photo(person, number),
        ExternalImageId=f"{person}_{number}",
        MaxFaces=1,
        **extra,
    )


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ALL_STORES, indirect=True)
def test_index_search_list_delete(ctx: RequestContext) -> None:
    created = op("CreateCollection", ctx, CollectionId="people")
    assert created["StatusCode"] == 200
    assert created["CollectionArn"].endswith(f":{ctx.account_id}:collection/people")
    with pytest.raises(ResourceAlreadyExistsException):
        op("CreateCollection", ctx, CollectionId="people")

    faces = {}
    for person in ("Ariel_Sharon", "Colin_Powell", "Tony_Blair"):
        record = index(ctx, person, 1)["FaceRecords"][0]
        assert record["Face"]["ExternalImageId"] == f"{person}_1"
        assert {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"} <= set(
            record["FaceDetail"]
        )
        faces[person] = record["Face"]["FaceId"]

    described = op("DescribeCollection", ctx, CollectionId="people")
    assert described["FaceCount"] == 3 and described["UserCount"] == 0

    for person in ("Ariel_Sharon", "Colin_Powell"):
        found = op("SearchFacesByImage", ctx, CollectionId="people", Image=photo(person, 2))
        assert found["FaceMatches"], f"another photo of {person} found nobody"
        best = found["FaceMatches"][0]
        assert best["Face"]["FaceId"] == faces[person] and best["Similarity"] >= 80
        assert all(m["Face"]["FaceId"] == faces[person] for m in found["FaceMatches"])

    alike = op(
        "SearchFaces", ctx, CollectionId="people", FaceId=faces["Tony_Blair"], FaceMatchThreshold=0
    )
    assert faces["Tony_Blair"] not in {m["Face"]["FaceId"] for m in alike["FaceMatches"]}
    assert len(alike["FaceMatches"]) == 2

    first = op("ListFaces", ctx, CollectionId="people", MaxResults=2)
    second = op("ListFaces", ctx, CollectionId="people", MaxResults=2, NextToken=first["NextToken"])
    assert "NextToken" not in second
    assert {f["FaceId"] for f in first["Faces"] + second["Faces"]} == set(faces.values())
    with pytest.raises(InvalidPaginationTokenException):
        op("ListFaces", ctx, CollectionId="people", NextToken="garbage")

    deleted = op(
        "DeleteFaces",
        ctx,
        CollectionId="people",
        FaceIds=[faces["Ariel_Sharon"], "11111111-1111-1111-1111-111111111111"],
    )
    assert deleted["DeletedFaces"] == [faces["Ariel_Sharon"]]
    assert deleted["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["FACE_NOT_FOUND"]
    again = op("SearchFacesByImage", ctx, CollectionId="people", Image=photo("Ariel_Sharon", 2))
    assert faces["Ariel_Sharon"] not in {m["Face"]["FaceId"] for m in again["FaceMatches"]}

    op("DeleteCollection", ctx, CollectionId="people")
    with pytest.raises(ResourceNotFoundException):
        op("DescribeCollection", ctx, CollectionId="people")


def test_collections_are_invisible_to_other_accounts(ctx: RequestContext) -> None:
    op("CreateCollection", ctx, CollectionId="mine")
    stranger = RequestContext(account_id=ctx.account_id[::-1] + "x")
    assert op("ListCollections", stranger)["CollectionIds"] == []
    for name, request in [
        ("DescribeCollection", {}),
        ("ListFaces", {}),
        ("DeleteCollection", {}),
        ("IndexFaces", {"Image": photo("Tony_Blair", 1)}),
    ]:
        with pytest.raises(ResourceNotFoundException):
            call(name, {"CollectionId": "mine", **request}, stranger)
    arn = op("DescribeCollection", ctx, CollectionId="mine")["CollectionARN"]
    with pytest.raises(ResourceNotFoundException):
        op("ListTagsForResource", stranger, ResourceArn=arn)


def test_list_collections_pages(ctx: RequestContext) -> None:
    for name in ("a", "b", "c"):
        op("CreateCollection", ctx, CollectionId=name)
    seen, token = [], None
    while True:
        page = op("ListCollections", ctx, MaxResults=2, **({"NextToken": token} if token else {}))
        seen += page["CollectionIds"]
        assert len(page["FaceModelVersions"]) == len(page["CollectionIds"])
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == ["a", "b", "c"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_group_photo_max_faces_and_bad_images(ctx: RequestContext) -> None:
    op("CreateCollection", ctx, CollectionId="people")
    group = op(
        "IndexFaces",
        ctx,
        CollectionId="people",
        Image=image("faces/face-api.js/examples/images/bbt1.jpg"),
        MaxFaces=2,
    )
    assert len(group["FaceRecords"]) == 2
    assert group["UnindexedFaces"], "a group photo has more than two faces"
    assert any("EXCEEDS_MAX_FACES" in f["Reasons"] for f in group["UnindexedFaces"])
    kept = [r["FaceDetail"]["BoundingBox"] for r in group["FaceRecords"]]
    dropped = [
        f["FaceDetail"]["BoundingBox"]
        for f in group["UnindexedFaces"]
        if f["Reasons"] == ["EXCEEDS_MAX_FACES"]
    ]
    area = min(b["Width"] * b["Height"] for b in kept)
    assert all(b["Width"] * b["Height"] <= area for b in dropped), "MaxFaces keeps the largest"

    no_face = op(
        "IndexFaces", ctx, CollectionId="people", Image=image("labels/darknet/data/eagle.jpg")
    )
    assert no_face["FaceRecords"] == [] and no_face["UnindexedFaces"] == []
    with pytest.raises(InvalidParameterException):
        op(
            "SearchFacesByImage",
            ctx,
            CollectionId="people",
            Image=image("labels/darknet/data/eagle.jpg"),
        )
    with pytest.raises(InvalidImageFormatException):
        op("IndexFaces", ctx, CollectionId="people", Image={"Bytes": b"not an image"})
    with pytest.raises(InvalidParameterException):
        op("SearchFaces", ctx, CollectionId="people", FaceId="11111111-1111-1111-1111-111111111111")
    assert op("DescribeCollection", ctx, CollectionId="people")["FaceCount"] == 2


@pytest.mark.parametrize("store_url", ALL_STORES, indirect=True)
def test_users_associate_search_and_idempotency(ctx: RequestContext) -> None:
    op("CreateCollection", ctx, CollectionId="people")
    ariel = [index(ctx, "Ariel_Sharon", n)["FaceRecords"][0]["Face"]["FaceId"] for n in (1, 2)]
    colin = index(ctx, "Colin_Powell", 1)["FaceRecords"][0]["Face"]["FaceId"]

    op("CreateUser", ctx, CollectionId="people", UserId="ariel", ClientRequestToken="t1")
    op("CreateUser", ctx, CollectionId="people", UserId="ariel", ClientRequestToken="t1")  # retry
    with pytest.raises(IdempotentParameterMismatchException):
        op("CreateUser", ctx, CollectionId="people", UserId="other", ClientRequestToken="t1")
    with pytest.raises(ConflictException):
        op("CreateUser", ctx, CollectionId="people", UserId="ariel")
    assert op("ListUsers", ctx, CollectionId="people")["Users"] == [
        {"UserId": "ariel", "UserStatus": "CREATED"}
    ]

    associated = op(
        "AssociateFaces", ctx, CollectionId="people", UserId="ariel", FaceIds=[*ariel, colin]
    )
    assert [f["FaceId"] for f in associated["AssociatedFaces"]] == ariel
    refused = associated["UnsuccessfulFaceAssociations"]
    assert refused[0]["FaceId"] == colin and refused[0]["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    assert associated["UserStatus"] == "ACTIVE"
    listed = op("ListFaces", ctx, CollectionId="people", UserId="ariel")["Faces"]
    assert {f["FaceId"] for f in listed} == set(ariel)

    by_image = op("SearchUsersByImage", ctx, CollectionId="people", Image=photo("Ariel_Sharon", 3))
    assert by_image["UserMatches"][0]["User"]["UserId"] == "ariel"
    by_face = op("SearchUsers", ctx, CollectionId="people", FaceId=ariel[0])
    assert by_face["UserMatches"][0]["User"]["UserId"] == "ariel"
    assert op("SearchUsers", ctx, CollectionId="people", FaceId=colin)["UserMatches"] == []

    blocked = op("DeleteFaces", ctx, CollectionId="people", FaceIds=[ariel[0]])
    assert blocked["UnsuccessfulFaceDeletions"] == [
        {"FaceId": ariel[0], "UserId": "ariel", "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]}
    ]
    gone = op(
        "DisassociateFaces", ctx, CollectionId="people", UserId="ariel", FaceIds=[ariel[0], colin]
    )
    assert gone["DisassociatedFaces"] == [{"FaceId": ariel[0]}]
    assert gone["UnsuccessfulFaceDisassociations"][0]["FaceId"] == colin
    op("DeleteUser", ctx, CollectionId="people", UserId="ariel")
    assert (
        op("ListFaces", ctx, CollectionId="people", UserId=None)["Faces"][1]["FaceId"] == ariel[1]
    )
    with pytest.raises(ResourceNotFoundException):
        op("DeleteUser", ctx, CollectionId="people", UserId="ariel")


def test_tags(ctx: RequestContext) -> None:
    arn = op("CreateCollection", ctx, CollectionId="tagged", Tags={"team": "a"})["CollectionArn"]
    op("TagResource", ctx, ResourceArn=arn, Tags={"purpose": "doorbell"})
    assert op("ListTagsForResource", ctx, ResourceArn=arn)["Tags"] == {
        "team": "a",
        "purpose": "doorbell",
    }
    op("UntagResource", ctx, ResourceArn=arn, TagKeys=["team"])
    assert op("ListTagsForResource", ctx, ResourceArn=arn)["Tags"] == {"purpose": "doorbell"}
    with pytest.raises(ResourceNotFoundException):
        op("ListTagsForResource", ctx, ResourceArn=arn.replace("tagged", "nope"))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_cli_index_is_resumable(store_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from oversight.cli import app

    folder = tmp_path / "photos"
    (folder / "colin").mkdir(parents=True)
    (folder / "colin" / "one.jpg").write_bytes(photo("Colin_Powell", 1)["Bytes"])
    (folder / "tony.jpg").write_bytes(photo("Tony_Blair", 1)["Bytes"])
    runner = CliRunner()
    first = runner.invoke(app, ["index", str(folder), "--collection", "cli"])
    assert first.exit_code == 0, first.output
    assert '"indexed_faces": 2' in first.output
    (folder / "ariel.jpg").write_bytes(photo("Ariel_Sharon", 1)["Bytes"])
    second = runner.invoke(app, ["index", str(folder), "--collection", "cli"])
    assert '"skipped": 2' in second.output and '"indexed_faces": 1' in second.output
    listed = runner.invoke(app, ["collections", "faces", "cli"])
    assert "colin:one.jpg" in listed.output
    found = runner.invoke(
        app, ["search", str(tmp_path / "photos" / "tony.jpg"), "--collection", "cli"]
    )
    assert found.exit_code == 0 and '"ExternalImageId": "tony.jpg"' in found.output
    missing = runner.invoke(app, ["collections", "describe", "nope"])
    assert missing.exit_code == 1 and "ResourceNotFoundException" in missing.output
    checked = runner.invoke(app, ["collections", "check"])
    assert checked.exit_code == 0 and '"StoredFaces": 3' in checked.output
    assert '"IndexedFaces": 3' in checked.output
    invalid = runner.invoke(app, ["collections", "create", "spaces are not allowed"])
    assert invalid.exit_code == 1 and "ValidationException" in invalid.output


def png(pixels: np.ndarray) -> dict[str, bytes]:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return {"Bytes": buffer.getvalue()}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_quality_filter_names_why_a_face_was_not_indexed(ctx: RequestContext) -> None:
    op("CreateCollection", ctx, CollectionId="people")
    with Image.open(io.BytesIO(photo("Tony_Blair", 1)["Bytes"])) as source:
        pixels = np.asarray(source.convert("RGB"))
        blurred = np.asarray(source.convert("RGB").filter(ImageFilter.GaussianBlur(6)))
    dark = (pixels * 0.08).astype(np.uint8)
    for image_bytes, reason in ((png(dark), "LOW_BRIGHTNESS"), (png(blurred), "LOW_SHARPNESS")):
        refused = op("IndexFaces", ctx, CollectionId="people", Image=image_bytes, MaxFaces=1)
        assert refused["FaceRecords"] == []
        assert reason in refused["UnindexedFaces"][0]["Reasons"]
        kept = op(
            "IndexFaces",
            ctx,
            CollectionId="people",
            Image=image_bytes,
            MaxFaces=1,
            QualityFilter="NONE",
        )
        assert len(kept["FaceRecords"]) == 1
