"""Access-key tables of the metadata store (Alembic branch "keys")."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, LargeBinary, String, Table

from ..store import metadata

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(20), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    # Fernet token of the secret: SigV4 verification needs the secret itself, not a hash of it.
    Column("secret_encrypted", LargeBinary, nullable=False),
    Column("description", String(256), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
