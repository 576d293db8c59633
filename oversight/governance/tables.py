"""Governance tables: per-key policies and per-collection retention (branch "governance")."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
)

from ..store import metadata

# One row per access key; "*" is the default for keys without their own row.
policies = Table(
    "governance_policies",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    # JSON lists; NULL means "any".
    Column("allowed_operations", JSON, nullable=True),
    Column("allowed_collections", JSON, nullable=True),
    Column("min_match_threshold", Float, nullable=True),
    Column("max_faces", Integer, nullable=True),
    Column("allow_stream_search", Boolean, nullable=False, default=True),
    Column("rate_limit_per_minute", Integer, nullable=True),
    Column("require_purpose", Boolean, nullable=False, default=False),
    # The human-review clause (review.clause.ReviewClause as JSON) and the reviewer role.
    Column("review", JSON(none_as_null=True), nullable=True),
    Column("reviewer", Boolean, nullable=False, default=False),
    Column("min_probe_age", Float, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

retention = Table(
    "governance_retention",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("collection_id", String(255), primary_key=True),
    Column("max_age_days", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The audit chain when the store is PostgreSQL (governance/audit.py): each record's stored line,
# byte for byte as the file chain would hold it, and the single head row that orders appends.
audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("line", LargeBinary, nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
