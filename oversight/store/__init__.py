"""The metadata store: one SQLAlchemy engine (SQLite by default, PostgreSQL by URL) and migrations.

Each domain (access keys, collections, governance, video) owns its tables and an independent
Alembic branch in `migrations/versions/`, so they evolve without stepping on each other;
`migrate()` brings every branch to its head.
"""

from .db import engine_for, get_engine, metadata, migrate

__all__ = ["engine_for", "get_engine", "metadata", "migrate"]
