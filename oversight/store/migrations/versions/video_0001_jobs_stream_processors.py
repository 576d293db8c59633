"""Video: stored-video jobs and stream processors.

Revision ID: video_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "video_0001"
down_revision = None
branch_labels = ("video",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "video_jobs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("client_request_token", sa.String(64), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("video_metadata", sa.JSON, nullable=True),
        sa.Column("results", sa.JSON, nullable=True),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_video_jobs_account_token",
        "video_jobs",
        ["account_id", "operation", "client_request_token"],
    )
    op.create_index("ix_video_jobs_status", "video_jobs", ["status"])
    op.create_table(
        "stream_processors",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("access_key_id", sa.String(128), nullable=True),
        sa.Column("purpose", sa.Text, nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stream_processors")
    op.drop_index("ix_video_jobs_status", table_name="video_jobs")
    op.drop_index("ix_video_jobs_account_token", table_name="video_jobs")
    op.drop_table("video_jobs")
