"""Governance: min_probe_age, the age below which a key's policy refuses 1:N searches.

Revision ID: governance_0004
Revises: governance_0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "governance_0004"
down_revision = "governance_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("governance_policies") as batch:
        batch.add_column(sa.Column("min_probe_age", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("governance_policies") as batch:
        batch.drop_column("min_probe_age")
