"""video: a job records the key that started it and its purpose

Revision ID: video_0003
Revises: video_0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "video_0003"
down_revision = "video_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("video_jobs") as batch:
        batch.add_column(sa.Column("access_key_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("purpose", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("video_jobs") as batch:
        batch.drop_column("purpose")
        batch.drop_column("access_key_id")
