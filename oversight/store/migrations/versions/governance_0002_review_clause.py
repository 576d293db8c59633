"""Governance: the human-review clause and the reviewer role on a key's policy.

Revision ID: governance_0002
Revises: governance_0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "governance_0002"
down_revision = "governance_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("governance_policies") as batch:
        batch.add_column(sa.Column("review", sa.JSON, nullable=True))
        batch.add_column(sa.Column("reviewer", sa.Boolean, nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("governance_policies") as batch:
        batch.drop_column("reviewer")
        batch.drop_column("review")
