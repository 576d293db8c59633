"""The video domain's tables: stored-video jobs and stream processors.

Results are kept as JSON beside the job (they are read back whole and paginated in memory);
a job row also carries its lease (`owner`, `heartbeat_at`) so a restarted or crashed worker's
job is taken over instead of staying IN_PROGRESS forever.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text

from ..store import metadata

video_jobs = Table(
    "video_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("account_id", String(12), nullable=False),
    # The Start* operation that created the job, e.g. "StartFaceSearch".
    Column("operation", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("client_request_token", String(64), nullable=True),
    # sha256 of the canonical request, to tell a retry from a different request (idempotency).
    Column("request_hash", String(64), nullable=False),
    Column("request", JSON, nullable=False),
    # Where the frames come from: {"S3Object": {...}} or {"Path": "..."} (local CLI runs).
    Column("source", JSON, nullable=False),
    Column("video_metadata", JSON, nullable=True),
    Column("results", JSON, nullable=True),
    Column("progress", Float, nullable=False, default=0.0),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("owner", String(64), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # Who started the job and why: a bulk job's images are judged as that key's requests.
    Column("access_key_id", String(128), nullable=True),
    Column("purpose", Text, nullable=True),
    Index("ix_video_jobs_account_token", "account_id", "operation", "client_request_token"),
    Index("ix_video_jobs_status", "status"),
)

stream_processors = Table(
    "stream_processors",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("status_message", Text, nullable=True),
    # The CreateStreamProcessor request as stored (Input, Output, Settings, RoleArn, ...).
    Column("definition", JSON, nullable=False),
    # Who created it and why: every match it reports is audited under this purpose.
    Column("access_key_id", String(128), nullable=True),
    Column("purpose", Text, nullable=True),
    Column("session_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The lease of the node running it (as a job's): a processor that should run (RUNNING or
    # STARTING) whose owner stopped refreshing `heartbeat_at` is taken over by another node.
    Column("owner", String(64), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
)
