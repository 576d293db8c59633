"""video: stream processors carry a lease (owner, heartbeat_at), like jobs

Revision ID: video_0002
Revises: video_0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "video_0002"
down_revision = "video_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stream_processors") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stream_processors") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
