"""NextTokens are opaque and bound to the listing that issued them (issue 12, finding 16): once
they were base64 of a global counter, accepted from any account and revealing how many faces all
tenants held."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from oversight.collections.pagination import decode_token, encode_token
from oversight.config import settings
from oversight.errors import InvalidPaginationTokenException
from tests.api_server import ApiServer, client, create_key
from tests.conftest import shared_path

FACES = "faces/face-api.js/examples/images/bbt2.jpg"


def _invalid_token(call: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "InvalidPaginationTokenException"


def test_tokens_do_not_cross_accounts_or_listings(api_server: ApiServer, rekognition: Any) -> None:
    other = client(api_server, *create_key(api_server))
    name, second = f"paging-{uuid.uuid4().hex[:8]}", f"paging-{uuid.uuid4().hex[:8]}"
    for rek in (rekognition, other):
        rek.create_collection(CollectionId=name)
        rek.create_user(CollectionId=name, UserId="u1")
        rek.create_user(CollectionId=name, UserId="u2")
    rekognition.create_collection(CollectionId=second)
    image = shared_path(FACES).read_bytes()
    rekognition.index_faces(CollectionId=name, Image={"Bytes": image}, MaxFaces=2)

    faces = rekognition.list_faces(CollectionId=name, MaxResults=1)
    users = rekognition.list_users(CollectionId=name, MaxResults=1)
    collections = rekognition.list_collections(MaxResults=1)
    tokens = [faces["NextToken"], users["NextToken"], collections["NextToken"]]

    # The issuing listing accepts its token ...
    assert len(rekognition.list_faces(CollectionId=name, NextToken=tokens[0])["Faces"]) == 1
    # ... another account refuses each, though its collection has the same name ...
    _invalid_token(lambda: other.list_faces(CollectionId=name, NextToken=tokens[0]))
    _invalid_token(lambda: other.list_users(CollectionId=name, NextToken=tokens[1]))
    _invalid_token(lambda: other.list_collections(NextToken=tokens[2]))
    # ... as does another collection of the same account, and another kind of listing.
    _invalid_token(lambda: rekognition.list_faces(CollectionId=second, NextToken=tokens[0]))
    _invalid_token(lambda: rekognition.list_faces(CollectionId=name, NextToken=tokens[1]))
    _invalid_token(lambda: rekognition.list_faces(
        CollectionId=name, UserId="u1", NextToken=tokens[0]))

    # Opaque: no counter inside, and the same page gets a different token each time.
    for token in tokens:
        assert b"faces" not in base64.urlsafe_b64decode(token) and len(token) <= 255
    assert rekognition.list_faces(CollectionId=name, MaxResults=1)["NextToken"] != tokens[0]


def test_forged_and_foreign_tokens_are_refused(isolated_data_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    scope = ("faces", "123456789012", "collection-uid")
    token = encode_token(scope, 41)
    assert decode_token(scope, token) == 41 and decode_token(scope, None) == 0
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[-1] ^= 1
    forged = [base64.urlsafe_b64encode(bytes(raw)).decode(), token[:-4], "x", "é", "AAAA",
              base64.urlsafe_b64encode(b"faces:99999999999999999999999").decode()]
    for bad in forged:
        with pytest.raises(InvalidPaginationTokenException):
            decode_token(scope, bad)
    with pytest.raises(InvalidPaginationTokenException):
        decode_token(("faces", "210987654321", "collection-uid"), token)
    # Another server (another secret) cannot open it either.
    monkeypatch.setenv("OVERSIGHT_DATA_DIR", str(tmp_path / "elsewhere"))
    settings.cache_clear()
    with pytest.raises(InvalidPaginationTokenException):
        decode_token(scope, token)
