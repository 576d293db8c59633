"""The collections domain's tables: collections, their faces (embeddings, never images), users,
tags, and the idempotency record of ClientRequestTokens.

Every row reaches its tenant through `collections.account_id`; children are deleted with their
collection (ON DELETE CASCADE).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..store import metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL needs BIGINT for 10 M+ faces.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")


def _collection_ref(primary_key: bool = False) -> Column:
    """The owning collection; its rows go when it goes."""
    return Column(
        "collection_pk",
        _SERIAL,
        ForeignKey("collections.pk", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


collections = Table(
    "collections",
    metadata,
    Column("pk", _SERIAL, primary_key=True, autoincrement=True),
    # Names the persisted vector index file; unlike `pk` it is never reused after a delete.
    Column("uid", String(36), nullable=False, unique=True),
    Column("account_id", String(64), nullable=False),
    Column("collection_id", String(255), nullable=False),
    Column("face_model", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Bumped in the same transaction as every face insert or delete, so a process can tell
    # whether its in-memory vector index reflects the store.
    Column("revision", BigInteger, nullable=False, default=0),
    # Milvus timestamp of the latest vector write (cluster mode; 0 with the embedded index):
    # a search on any node asks Milvus for a view at least this recent (read-after-write).
    Column("vector_ts", BigInteger, nullable=False, default=0),
    # The matcher its searches compare with ("fused" or "sface"), switchable at any time: both
    # read the same stored vectors.
    Column("matcher", String(16), nullable=False, default="fused"),
    UniqueConstraint("account_id", "collection_id", name="uq_collections_account_name"),
)

faces = Table(
    "collection_faces",
    metadata,
    # The vector index keys faces by this integer; FaceId is the public name.
    Column("seq", _SERIAL, primary_key=True, autoincrement=True),
    _collection_ref(),
    Column("face_id", String(36), nullable=False, unique=True),
    Column("image_id", String(36), nullable=False),
    Column("external_image_id", String(255)),
    Column("user_id", String(128)),
    Column("box_left", Float, nullable=False),
    Column("box_top", Float, nullable=False),
    Column("box_width", Float, nullable=False),
    Column("box_height", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    Column("indexed_at", DateTime(timezone=True), nullable=False),
    Index("ix_collection_faces_collection_seq", "collection_pk", "seq"),
    Index("ix_collection_faces_collection_user", "collection_pk", "user_id"),
)

users = Table(
    "collection_users",
    metadata,
    Column("pk", _SERIAL, primary_key=True, autoincrement=True),
    _collection_ref(),
    Column("user_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("collection_pk", "user_id", name="uq_collection_users_name"),
)

tags = Table(
    "collection_tags",
    metadata,
    _collection_ref(primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

request_tokens = Table(
    "collection_request_tokens",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("operation", String(64), primary_key=True),
    Column("token", String(64), primary_key=True),
    # A digest of the request's parameters: the same token with other parameters is a mismatch.
    Column("request_digest", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
