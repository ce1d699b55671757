"""Requests to talk to a person: what they were about and when. No personal data is stored here.

They are shared writes (bot.shared_store): `DATA_DIR/handoffs.db` on one machine, the tracker store's
PostgreSQL database when a cluster is configured, so staff see every request whichever node took it.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from bot import settings, shared_store

SQLITE_FILE = "handoffs.db"

handoff_requests = sa.Table(
    "handoff_requests",
    shared_store.METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.Text),
    sa.Column("requested_at", sa.Text),
    sa.Column("conversation", sa.Text),
    sa.Column("status", sa.Text),
)


def default_path() -> Path:
    """The SQLite file used when no cluster database is configured."""
    return settings.data_dir() / SQLITE_FILE


def record_handoff(topic: str, at: dt.datetime, sender_hash: str, db_path: Path | None = None) -> str:
    """Stores one request and returns its reference (e.g. "H00042") to show the founder."""
    with shared_store.transaction(SQLITE_FILE, handoff_requests, db_path=db_path) as connection:
        result = connection.execute(handoff_requests.insert().values(
            topic=topic, requested_at=at.isoformat(), conversation=sender_hash, status="new"))
        return f"H{result.inserted_primary_key[0]:05d}"


def list_handoffs(db_path: Path | None = None) -> list[dict]:
    """Every request, oldest first."""
    if not shared_store.exists(SQLITE_FILE, handoff_requests, db_path=db_path):
        return []
    with shared_store.transaction(SQLITE_FILE, handoff_requests, db_path=db_path) as connection:
        rows = connection.execute(sa.select(handoff_requests).order_by(handoff_requests.c.id))
        return [dict(row._mapping) for row in rows]
