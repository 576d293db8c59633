"""collections: vector_ts, the Milvus timestamp of a collection's latest vector write

Revision ID: c0a2_vector_ts
Revises: c0a1_collections
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "c0a2_vector_ts"
down_revision = "c0a1_collections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "collections", sa.Column("vector_ts", sa.BigInteger, nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("collections", "vector_ts")
