"""collections: matcher, the vector a collection's searches compare (fused or SFace alone)

Revision ID: c0a3_matcher
Revises: c0a2_vector_ts
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "c0a3_matcher"
down_revision = "c0a2_vector_ts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "collections", sa.Column("matcher", sa.String(16), nullable=False, server_default="fused")
    )


def downgrade() -> None:
    op.drop_column("collections", "matcher")
