"""Access keys: AWS-shaped ids and secrets that belong to an account, stored encrypted at rest.

SigV4 is an HMAC keyed by the secret, so the server must be able to recover the secret; a hash
would not do. Secrets are therefore encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key
kept in `<data dir>/access-keys.fernet` (mode 0600, `keyfiles.load_cipher`), separate from the
database: a copy of the database alone does not reveal any secret.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, func, insert, select, update

from ..config import settings
from ..errors import InternalServerError, InvalidParameterException, ResourceNotFoundException
from ..keyfiles import CIPHER_FILE, load_cipher
from ..operations.context import LOCAL_ACCOUNT
from ..store import get_engine
from .tables import access_keys

# AWS key ids are "AKIA" + 16 characters of the base32 alphabet; secrets are 40 base64 characters.
_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    account_id: str
    description: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewAccessKey:
    """A key just created: the only moment its secret is shown."""

    key: AccessKey
    secret: str


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_account_id() -> str:
    # A leading non-zero digit keeps generated ids apart from the local operator's 000000000000.
    return str(secrets.randbelow(9) + 1) + _random(string.digits, 11)


def _row_to_key(row: object) -> AccessKey:
    return AccessKey(
        access_key_id=row.access_key_id,  # type: ignore[attr-defined]
        account_id=row.account_id,  # type: ignore[attr-defined]
        description=row.description,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        revoked_at=row.revoked_at,  # type: ignore[attr-defined]
    )


class KeyStore:
    def __init__(self, engine: Engine, cipher: Fernet) -> None:
        self._engine = engine
        self._cipher = cipher

    @classmethod
    def default(cls) -> KeyStore:
        """The store of the configured data directory and database."""
        return cls(get_engine(), load_cipher(settings().data_dir))

    def create(
        self,
        account_id: str = LOCAL_ACCOUNT,
        description: str = "",
        record: Callable[[AccessKey], None] | None = None,
    ) -> NewAccessKey:
        """A new key. `record(key)` (its audit record) runs inside the transaction: when it
        raises, no key was created."""
        if not ACCOUNT_ID.fullmatch(account_id):
            raise InvalidParameterException(f"Account id must be 12 digits, got {account_id!r}.")
        key = AccessKey(
            access_key_id="AKIA" + _random(_ID_ALPHABET, 16),
            account_id=account_id,
            description=description[:256],
            created_at=datetime.now(UTC),
            revoked_at=None,
        )
        secret = _random(_SECRET_ALPHABET, 40)
        with self._engine.begin() as conn:
            conn.execute(
                insert(access_keys).values(
                    access_key_id=key.access_key_id,
                    account_id=key.account_id,
                    secret_encrypted=self._cipher.encrypt(secret.encode()),
                    description=key.description,
                    created_at=key.created_at,
                )
            )
            if record is not None:
                record(key)
        return NewAccessKey(key=key, secret=secret)

    def list(self, account_id: str | None = None) -> list[AccessKey]:
        query = select(access_keys).order_by(access_keys.c.created_at)
        if account_id is not None:
            query = query.where(access_keys.c.account_id == account_id)
        with self._engine.connect() as conn:
            return [_row_to_key(row) for row in conn.execute(query)]

    def count(self) -> int:
        """Keys ever created, revoked ones included."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(access_keys)).scalar_one())

    def revoke(
        self, access_key_id: str, record: Callable[[AccessKey], None] | None = None
    ) -> AccessKey:
        """Revoke a key for good; revoking twice keeps the first revocation time. `record(key)`
        runs inside the transaction: when it raises, the key stays as it was."""
        with self._engine.begin() as conn:
            conn.execute(
                update(access_keys)
                .where(access_keys.c.access_key_id == access_key_id)
                .where(access_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            row = conn.execute(
                select(access_keys).where(access_keys.c.access_key_id == access_key_id)
            ).first()
            if row is None:
                raise ResourceNotFoundException(f"Access key {access_key_id} does not exist.")
            if record is not None:
                record(_row_to_key(row))
        return _row_to_key(row)

    def active_secret(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        """The key and its secret when the key exists and is not revoked."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(access_keys)
                .where(access_keys.c.access_key_id == access_key_id)
                .where(access_keys.c.revoked_at.is_(None))
            ).first()
        if row is None:
            return None
        try:
            secret = self._cipher.decrypt(row.secret_encrypted).decode()
        except InvalidToken as exc:
            # The key file does not match the database: a server fault, never the client's.
            raise InternalServerError(
                f"Cannot decrypt access key secrets: {CIPHER_FILE} does not match the store."
            ) from exc
        return _row_to_key(row), secret


def write_credentials_file(path: Path, new_key: NewAccessKey, region: str) -> None:
    """Write an AWS shared-credentials file (mode 0600) holding `new_key`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        f"# Oversight access key for account {new_key.key.account_id}; region {region}.\n"
        "# Use: AWS_SHARED_CREDENTIALS_FILE=<this file> (see docs/API.md). Delete it once copied.\n"
        "[default]\n"
        f"aws_access_key_id = {new_key.key.access_key_id}\n"
        f"aws_secret_access_key = {new_key.secret}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def bootstrap_credentials(
    store: KeyStore, path: Path, region: str, record: Callable[[AccessKey], None] | None = None
) -> NewAccessKey | None:
    """On a store that never had a key, create one for the local account and write it to `path`.

    Only an empty store qualifies: once keys exist, revoking them all must not make a restart
    mint a fresh one.
    """
    if store.count() > 0:
        return None
    new_key = store.create(
        LOCAL_ACCOUNT, description="first key, created by oversight serve", record=record
    )
    write_credentials_file(path, new_key, region)
    return new_key
