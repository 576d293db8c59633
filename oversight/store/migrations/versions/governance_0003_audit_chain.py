"""Governance: the audit chain in the database (used when the store is PostgreSQL).

Revision ID: governance_0003
Revises: governance_0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "governance_0003"
down_revision = "governance_0002"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("line", sa.LargeBinary, nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    # The one row every append locks (SELECT ... FOR UPDATE): it orders appends of all nodes.
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_records")
