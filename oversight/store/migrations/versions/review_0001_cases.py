"""Review: cases of withheld face matches, reviewers' decisions, reference face crops.

Revision ID: review_0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "review_0001"
down_revision = None
branch_labels = ("review",)
# Reference crops belong to indexed faces (collection_faces).
depends_on = "c0a1_collections"


def upgrade() -> None:
    op.create_table(
        "review_cases",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("requester_key", sa.String(128), nullable=True),
        sa.Column("purpose", sa.Text, nullable=True),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("collection_id", sa.String(255), nullable=True),
        sa.Column("withheld", sa.JSON, nullable=False),
        sa.Column("candidates", sa.JSON, nullable=False),
        sa.Column("probe_crop", sa.LargeBinary, nullable=True),
        sa.Column("probe_source", sa.Text, nullable=True),
        sa.Column("reviewers_required", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_key", sa.String(255), nullable=True),
        sa.UniqueConstraint("account_id", "source_key", name="uq_review_cases_source"),
    )
    op.create_index("ix_review_cases_account_status", "review_cases", ["account_id", "status"])
    op.create_table(
        "review_decisions",
        sa.Column("case_id", sa.String(36),
                  sa.ForeignKey("review_cases.case_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("reviewer_key", sa.String(128), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "review_reference_crops",
        sa.Column("face_id", sa.String(36),
                  sa.ForeignKey("collection_faces.face_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("jpeg", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("review_reference_crops")
    op.drop_table("review_decisions")
    op.drop_index("ix_review_cases_account_status", "review_cases")
    op.drop_table("review_cases")
