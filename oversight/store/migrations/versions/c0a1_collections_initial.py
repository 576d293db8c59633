"""collections: collections, faces, users, tags, request tokens

Revision ID: c0a1_collections
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "c0a1_collections"
down_revision = None
branch_labels = ("collections",)
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _collection_fk(**kwargs: object) -> sa.Column:
    return sa.Column(
        "collection_pk",
        _SERIAL,
        sa.ForeignKey("collections.pk", ondelete="CASCADE"),
        nullable=False,
        **kwargs,
    )


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("pk", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(36), nullable=False, unique=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("collection_id", sa.String(255), nullable=False),
        sa.Column("face_model", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
        sa.UniqueConstraint("account_id", "collection_id", name="uq_collections_account_name"),
    )
    op.create_table(
        "collection_faces",
        sa.Column("seq", _SERIAL, primary_key=True, autoincrement=True),
        _collection_fk(),
        sa.Column("face_id", sa.String(36), nullable=False, unique=True),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("external_image_id", sa.String(255)),
        sa.Column("user_id", sa.String(128)),
        sa.Column("box_left", sa.Float, nullable=False),
        sa.Column("box_top", sa.Float, nullable=False),
        sa.Column("box_width", sa.Float, nullable=False),
        sa.Column("box_height", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_collection_faces_collection_seq", "collection_faces", ["collection_pk", "seq"]
    )
    op.create_index(
        "ix_collection_faces_collection_user", "collection_faces", ["collection_pk", "user_id"]
    )
    op.create_table(
        "collection_users",
        sa.Column("pk", _SERIAL, primary_key=True, autoincrement=True),
        _collection_fk(),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("collection_pk", "user_id", name="uq_collection_users_name"),
    )
    op.create_table(
        "collection_tags",
        _collection_fk(primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    op.create_table(
        "collection_request_tokens",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("operation", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "collection_request_tokens",
        "collection_tags",
        "collection_users",
        "collection_faces",
        "collections",
    ):
        op.drop_table(table)
