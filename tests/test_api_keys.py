"""Access keys at rest (SQLite and PostgreSQL) and SigV4 verification edge cases, in-process."""

from __future__ import annotations

import configparser
import hashlib
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqlalchemy import select

from oversight.api.auth import (
    InvalidSignatureException,
    Principal,
    SignedRequest,
    UnrecognizedClientException,
    authenticate,
)
from oversight.api.keys import CIPHER_FILE, KeyStore, bootstrap_credentials, load_cipher
from oversight.api.tables import access_keys
from oversight.config import settings
from oversight.errors import (
    InternalServerError,
    InvalidParameterException,
    ResourceNotFoundException,
)
from oversight.store import engine_for, get_engine

SKEW = timedelta(minutes=15)


@pytest.fixture
def keys(store_url: str) -> KeyStore:
    return KeyStore.default()


def test_keys_are_aws_shaped_and_encrypted_at_rest(keys: KeyStore) -> None:
    created = keys.create("123456789012", description="camera 4")
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", created.key.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", created.secret)
    with get_engine().connect() as conn:
        stored = conn.execute(
            select(access_keys.c.secret_encrypted).where(
                access_keys.c.access_key_id == created.key.access_key_id
            )
        ).scalar_one()
    assert created.secret.encode() not in bytes(stored)
    cipher_file = settings().data_dir / CIPHER_FILE
    assert stat.S_IMODE(cipher_file.stat().st_mode) == 0o600
    key, secret = keys.active_secret(created.key.access_key_id)  # type: ignore[misc]
    assert secret == created.secret and key.account_id == "123456789012"


def test_revoked_keys_have_no_secret(keys: KeyStore) -> None:
    created = keys.create()
    revoked = keys.revoke(created.key.access_key_id)
    assert not revoked.active
    assert keys.active_secret(created.key.access_key_id) is None
    assert keys.revoke(created.key.access_key_id).revoked_at == revoked.revoked_at
    with pytest.raises(ResourceNotFoundException):
        keys.revoke("AKIANOSUCHKEY0000000")


def test_account_ids_are_12_digits(keys: KeyStore) -> None:
    with pytest.raises(InvalidParameterException):
        keys.create("42")


def test_first_start_key_is_written_once(tmp_path: Path) -> None:
    # Needs a store that never had a key: a fresh one of its own.
    keys = KeyStore(engine_for(f"sqlite:///{tmp_path / 'fresh.db'}"), load_cipher(tmp_path))
    path = tmp_path / "credentials"
    first = bootstrap_credentials(keys, path, "us-east-1")
    assert first is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = configparser.ConfigParser()
    parsed.read(path)
    assert parsed["default"]["aws_access_key_id"] == first.key.access_key_id
    assert parsed["default"]["aws_secret_access_key"] == first.secret
    # Revoking every key must not make the next start mint a new one.
    keys.revoke(first.key.access_key_id)
    path.unlink()
    assert bootstrap_credentials(keys, path, "us-east-1") is None
    assert not path.exists()


def test_a_foreign_cipher_key_is_a_server_error(keys: KeyStore, tmp_path: Path) -> None:
    created = keys.create()
    other = KeyStore(get_engine(), load_cipher(tmp_path / "elsewhere"))
    with pytest.raises(InternalServerError):
        other.active_secret(created.key.access_key_id)


# --- SigV4 ------------------------------------------------------------------------------------


def _signed(
    key_id: str, secret: str, body: bytes = b"{}", region: str = "eu-west-3",
    service: str = "rekognition",
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8900/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "RekognitionService.DetectFaces",
        },
    )
    SigV4Auth(Credentials(key_id, secret), service, region).add_auth(request)
    return request


def _received(request: AWSRequest, **changes: object) -> SignedRequest:
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:8900"
    received = {
        "method": "POST", "host": "127.0.0.1:8900", "raw_path": "/", "query": "",
        "headers": headers, "body": request.body,
    }
    received.update(changes)
    return SignedRequest(**received)  # type: ignore[arg-type]


@pytest.fixture
def signer(tmp_path: Path) -> tuple[KeyStore, str, str]:
    store = KeyStore(get_engine(), load_cipher(settings().data_dir))
    created = store.create("210987654321")
    return store, created.key.access_key_id, created.secret


def _check(store: KeyStore, request: SignedRequest,
           regions: tuple[str, ...] = ("eu-west-3",)) -> Principal:
    return authenticate(request, store, now=datetime.now(UTC), max_skew=SKEW, regions=regions)


def test_botocore_signed_request_authenticates_in_the_servers_regions(signer: tuple) -> None:
    store, key_id, secret = signer
    principal = _check(store, _received(_signed(key_id, secret)), ("us-east-1", "eu-west-3"))
    assert principal == Principal(access_key_id=key_id, account_id="210987654321")
    # Any region was once accepted (issue 13, item 6): AWS refuses another region's scope.
    with pytest.raises(InvalidSignatureException, match="valid region, not 'eu-west-3'"):
        _check(store, _received(_signed(key_id, secret)), ("us-east-1",))


def test_query_added_after_signing_is_rejected(signer: tuple) -> None:
    store, key_id, secret = signer
    with pytest.raises(InvalidSignatureException):
        _check(store, _received(_signed(key_id, secret), query="Action=Other"))


def test_other_service_scope_is_rejected(signer: tuple) -> None:
    store, key_id, secret = signer
    with pytest.raises(InvalidSignatureException, match="correct service"):
        _check(store, _received(_signed(key_id, secret, service="s3")))


def test_declared_body_hash_must_match_body(signer: tuple) -> None:
    store, key_id, secret = signer
    request = _signed(key_id, secret)
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        _check(store, _received(request))


def test_host_must_be_signed(signer: tuple) -> None:
    store, key_id, secret = signer
    request = _signed(key_id, secret)
    received = _received(request)
    headers = dict(received.headers)
    headers["authorization"] = headers["authorization"].replace("host;", "")
    with pytest.raises(InvalidSignatureException, match="Host"):
        _check(store, _received(request, headers=headers))


def test_revoked_key_is_unrecognized_even_when_correctly_signed(signer: tuple) -> None:
    store, key_id, secret = signer
    store.revoke(key_id)
    with pytest.raises(UnrecognizedClientException):
        _check(store, _received(_signed(key_id, secret)))
