"""Requests to talk to a person: what they were about and when. No personal data is stored here."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlite_utils

from bot import settings


def default_path() -> Path:
    return settings.data_dir() / "handoffs.db"


def record_handoff(topic: str, at: dt.datetime, sender_hash: str, db_path: Path | None = None) -> str:
    """Stores one request and returns its reference (e.g. "H00042") to show the founder."""
    db = sqlite_utils.Database(db_path or default_path())
    try:
        table = db["handoff_requests"]
        row = table.insert(
            {"topic": topic, "requested_at": at.isoformat(), "conversation": sender_hash, "status": "new"},
            pk="id",
            alter=True,
        )
        return f"H{row.last_pk:05d}"
    finally:
        db.close()


def list_handoffs(db_path: Path | None = None) -> list[dict]:
    path = db_path or default_path()
    if not path.exists():
        return []
    db = sqlite_utils.Database(path)
    try:
        return list(db["handoff_requests"].rows_where(order_by="id")) if db["handoff_requests"].exists() else []
    finally:
        db.close()
