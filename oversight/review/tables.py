"""Review tables (Alembic branch "review"): cases, their decisions, and reference face crops.

Face crops are the only face images Oversight keeps, and only where human review needs them: a
reference crop lives and dies with its indexed face (ON DELETE CASCADE), a case's probe crop is
erased when the case closes or expires.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..store import metadata

cases = Table(
    "review_cases",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("account_id", String(64), nullable=False),
    # Who asked, why and how: the key whose answer is withheld, its purpose and request.
    Column("requester_key", String(128), nullable=True),
    Column("purpose", Text, nullable=True),
    Column("operation", String(64), nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("collection_id", String(255), nullable=True),
    # What would have been answered (the withheld members), released once confirmed.
    Column("withheld", JSON, nullable=False),
    # The candidates reviewers judge: [{FaceId, UserId, ExternalImageId, Similarity}].
    Column("candidates", JSON, nullable=False),
    Column("probe_crop", LargeBinary, nullable=True),
    # Where the probe came from when there is no crop (a stored FaceId, a video timestamp).
    Column("probe_source", Text, nullable=True),
    Column("reviewers_required", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    # Idempotency for answers read more than once (a video job's results): one case per source.
    Column("source_key", String(255), nullable=True),
    UniqueConstraint("account_id", "source_key", name="uq_review_cases_source"),
    Index("ix_review_cases_account_status", "account_id", "status"),
)

decisions = Table(
    "review_decisions",
    metadata,
    Column("case_id", String(36), ForeignKey("review_cases.case_id", ondelete="CASCADE"),
           primary_key=True),
    Column("reviewer_key", String(128), primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

reference_crops = Table(
    "review_reference_crops",
    metadata,
    Column("face_id", String(36),
           ForeignKey("collection_faces.face_id", ondelete="CASCADE"), primary_key=True),
    Column("jpeg", LargeBinary, nullable=False),
)
