"""Collections through boto3 against the real server: on SQLite, on PostgreSQL, and in cluster
mode (PostgreSQL, Milvus, Redis).

Includes the Double Take flow exactly as its Rekognition detector calls it: DescribeCollection
(ResourceNotFoundException -> CreateCollection), IndexFaces with only CollectionId and Image,
SearchFacesByImage with FaceMatchThreshold unset, DeleteFaces of the trained FaceIds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api_server import ApiServer, client, start_server, stop_server
from tests.collections_db import throwaway_database
from tests.conftest import shared_path

LFW = "faces/krasserm_face-recognition/images"

# Each flow runs against a real server (the session's, or one on PostgreSQL).
pytestmark = pytest.mark.slow


def photo(person: str, number: int) -> bytes:
    return shared_path(f"{LFW}/{person}/{person}_{number:04d}.jpg").read_bytes()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                            pytest.param("cluster", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    if request.param == "sqlite":
        yield request.getfixturevalue("api_server")
        return
    engines: dict[str, str] = {}
    if request.param == "cluster":  # the vectors in Milvus, rate limits and events in Redis
        engines = {"OVERSIGHT_VECTOR_URL": request.getfixturevalue("milvus_url"),
                   "OVERSIGHT_REDIS_URL": request.getfixturevalue("redis_url")}
    # A database of its own: the server writes its first-start key only into an empty store, and
    # the session's shared database holds the keys of the tests that ran before.
    with throwaway_database("oversight_boto3") as url:
        root = tmp_path_factory.mktemp("collections-pg-server")
        started, process = start_server(root / "oversight-data",
                                        {"OVERSIGHT_DATABASE_URL": url, **engines})
        try:
            yield started
        finally:
            stop_server(process)


@pytest.fixture(scope="module")
def rekognition_client(server: ApiServer) -> Any:
    return client(server, server.access_key_id, server.secret_access_key)


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_double_take_flow(rekognition_client: Any) -> None:
    rek, collection = rekognition_client, f"double-take-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as missing:
        rek.describe_collection(CollectionId=collection)
    assert error_code(missing) == "ResourceNotFoundException"
    rek.create_collection(CollectionId=collection)

    trained = rek.index_faces(CollectionId=collection, Image={"Bytes": photo("Hugo_Chavez", 1)})
    face_ids = [record["Face"]["FaceId"] for record in trained["FaceRecords"]]
    assert len(face_ids) == 1
    rek.index_faces(CollectionId=collection, Image={"Bytes": photo("Jacques_Chirac", 1)})
    assert rek.describe_collection(CollectionId=collection)["FaceCount"] == 2

    found = rek.search_faces_by_image(
        CollectionId=collection, Image={"Bytes": photo("Hugo_Chavez", 3)}
    )
    assert found["FaceMatches"][0]["Face"]["FaceId"] == face_ids[0]
    assert found["FaceMatches"][0]["Similarity"] >= 80
    assert 0 < found["SearchedFaceBoundingBox"]["Width"] <= 1

    deleted = rek.delete_faces(CollectionId=collection, FaceIds=face_ids)
    assert deleted["DeletedFaces"] == face_ids
    after = rek.search_faces_by_image(
        CollectionId=collection, Image={"Bytes": photo("Hugo_Chavez", 3)}
    )
    assert face_ids[0] not in {m["Face"]["FaceId"] for m in after["FaceMatches"]}
    rek.delete_collection(CollectionId=collection)


def test_pagination_and_errors(rekognition_client: Any) -> None:
    rek, prefix = rekognition_client, f"pages-{uuid.uuid4().hex[:8]}"
    for i in range(3):
        rek.create_collection(CollectionId=f"{prefix}-{i}")
    with pytest.raises(ClientError) as exists:
        rek.create_collection(CollectionId=f"{prefix}-0")
    assert error_code(exists) == "ResourceAlreadyExistsException"

    paginator = rek.get_paginator("list_collections")
    listed = [
        name
        for page in paginator.paginate(PaginationConfig={"PageSize": 2})
        for name in page["CollectionIds"]
    ]
    assert [name for name in listed if name.startswith(prefix)] == [
        f"{prefix}-{i}" for i in range(3)
    ]

    collection = f"{prefix}-0"
    for person in ("Gerhard_Schroeder", "Donald_Rumsfeld", "Vladimir_Putin"):
        rek.index_faces(
            CollectionId=collection,
            Image={"Bytes": photo(person, 1)},
            ExternalImageId=person,
            MaxFaces=1,
        )
    faces = [
        face["ExternalImageId"]
        for page in rek.get_paginator("list_faces").paginate(
            CollectionId=collection, PaginationConfig={"PageSize": 2}
        )
        for face in page["Faces"]
    ]
    assert sorted(faces) == ["Donald_Rumsfeld", "Gerhard_Schroeder", "Vladimir_Putin"]

    with pytest.raises(ClientError) as bad_token:
        rek.list_faces(CollectionId=collection, NextToken="not-a-token")
    assert error_code(bad_token) == "InvalidPaginationTokenException"
    with pytest.raises(ClientError) as bad_image:
        rek.index_faces(CollectionId=collection, Image={"Bytes": b"\x89PNG broken"})
    assert error_code(bad_image) == "InvalidImageFormatException"
    with pytest.raises(ClientError) as bad_id:
        rek.create_collection(CollectionId="spaces are not allowed")
    assert error_code(bad_id) in {"InvalidParameterException", "ValidationException"}
    with pytest.raises(ClientError) as no_collection:
        rek.search_faces_by_image(
            CollectionId=f"{prefix}-nope", Image={"Bytes": photo("Vladimir_Putin", 2)}
        )
    assert error_code(no_collection) == "ResourceNotFoundException"

    users = rek.list_users(CollectionId=collection)
    assert users["Users"] == []
    rek.create_user(CollectionId=collection, UserId="putin", ClientRequestToken="tok-1")
    with pytest.raises(ClientError) as mismatch:
        rek.create_user(CollectionId=collection, UserId="other", ClientRequestToken="tok-1")
    assert error_code(mismatch) == "IdempotentParameterMismatchException"
    face_id = rek.list_faces(CollectionId=collection)["Faces"][2]["FaceId"]
    associated = rek.associate_faces(CollectionId=collection, UserId="putin", FaceIds=[face_id])
    assert associated["AssociatedFaces"] == [{"FaceId": face_id}]
    by_image = rek.search_users_by_image(
        CollectionId=collection, Image={"Bytes": photo("Vladimir_Putin", 2)}
    )
    assert by_image["UserMatches"][0]["User"]["UserId"] == "putin"
    arn = rek.describe_collection(CollectionId=collection)["CollectionARN"]
    rek.tag_resource(ResourceArn=arn, Tags={"owner": "tests", "stage": "ci"})
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"owner": "tests", "stage": "ci"}
    rek.untag_resource(ResourceArn=arn, TagKeys=["stage"])
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"owner": "tests"}

    alike = rek.search_faces(CollectionId=collection, FaceId=face_id, FaceMatchThreshold=0)
    assert face_id not in {m["Face"]["FaceId"] for m in alike["FaceMatches"]}
    assert len(alike["FaceMatches"]) == 2
    by_face = rek.search_users(CollectionId=collection, FaceId=face_id)
    assert by_face["UserMatches"][0]["User"]["UserId"] == "putin"
    rek.create_user(CollectionId=collection, UserId="second")
    users = [
        user["UserId"]
        for page in rek.get_paginator("list_users").paginate(
            CollectionId=collection, PaginationConfig={"PageSize": 1}
        )
        for user in page["Users"]
    ]
    assert users == ["putin", "second"]
    released = rek.disassociate_faces(CollectionId=collection, UserId="putin", FaceIds=[face_id])
    assert released["DisassociatedFaces"] == [{"FaceId": face_id}]
    rek.delete_user(CollectionId=collection, UserId="putin")
    with pytest.raises(ClientError) as gone:
        rek.delete_user(CollectionId=collection, UserId="putin")
    assert error_code(gone) == "ResourceNotFoundException"
    for i in range(3):
        rek.delete_collection(CollectionId=f"{prefix}-{i}")


def test_face_model_version_is_a_number_and_the_embedding_is_named(
    rekognition_client: Any, server: ApiServer,
) -> None:
    # It was the embedding's name, which clients reading a number choke on (issue 13, item 3).
    import json
    import re
    import urllib.request

    rek, collection = rekognition_client, f"versions-{uuid.uuid4().hex[:8]}"
    created = rek.create_collection(CollectionId=collection)
    indexed = rek.index_faces(CollectionId=collection, Image={"Bytes": photo("Hugo_Chavez", 1)})
    raw = {}
    rek.meta.events.register("after-call.rekognition.DescribeCollection",
                             lambda http_response, **_: raw.update(json.loads(
                                 http_response.content)))
    described = rek.describe_collection(CollectionId=collection)
    versions = {created["FaceModelVersion"], indexed["FaceModelVersion"],
                described["FaceModelVersion"],
                indexed["FaceRecords"][0]["Face"]["IndexFacesModelVersion"],
                *rek.list_collections()["FaceModelVersions"]}
    assert all(re.fullmatch(r"[0-9.]+", v) for v in versions), versions
    with urllib.request.urlopen(f"{server.url}/health") as response:
        health = json.loads(response.read())
    assert health["FaceModelVersion"] == described["FaceModelVersion"]
    assert raw["EmbeddingModel"] == health["EmbeddingModel"] and "sface" in raw["EmbeddingModel"]
    rek.delete_collection(CollectionId=collection)
