"""Governance: per-key policies and per-collection retention.

Revision ID: governance_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "governance_0001"
down_revision = None
branch_labels = ("governance",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "governance_policies",
        sa.Column("access_key_id", sa.String(128), primary_key=True),
        sa.Column("allowed_operations", sa.JSON, nullable=True),
        sa.Column("allowed_collections", sa.JSON, nullable=True),
        sa.Column("min_match_threshold", sa.Float, nullable=True),
        sa.Column("max_faces", sa.Integer, nullable=True),
        sa.Column("allow_stream_search", sa.Boolean, nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer, nullable=True),
        sa.Column("require_purpose", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "governance_retention",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("collection_id", sa.String(255), primary_key=True),
        sa.Column("max_age_days", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("governance_retention")
    op.drop_table("governance_policies")
