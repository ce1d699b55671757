"""Alert subscriptions: an email address, the saved search and consent, kept apart from the conversation.

Shared writes (bot.shared_store): `DATA_DIR/alerts.db` on one machine, the tracker store's PostgreSQL database
in a cluster. The conversation keeps only a hash of its sender id here, so "unsubscribe" typed in the same chat
works without the code; the email address is never written to the tracker, logs or slots by this package.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bot import shared_store

SQLITE_FILE = "alerts.db"
TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud and retyped
TOKEN_LENGTH = 10

alert_subscriptions = sa.Table(
    "alert_subscriptions",
    shared_store.METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token", sa.String(32), unique=True, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("query", sa.Text, nullable=False),  # JSON of bot.opportunities.conversation.query_to_dict
    sa.Column("description", sa.Text),
    sa.Column("conversation", sa.String(64)),  # sha256 of the sender id, never the id itself
    sa.Column("consent_at", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("last_run_at", sa.Text),
)

# One row per (subscription, notice, version) sent: no notice is sent twice, an amended one is sent as amended.
alert_deliveries = sa.Table(
    "alert_deliveries",
    shared_store.METADATA,
    sa.Column("subscription_id", sa.Integer, primary_key=True),
    sa.Column("notice", sa.String(200), primary_key=True),  # source:reference
    sa.Column("version", sa.String(200), nullable=False),  # amendment number and closing date
    sa.Column("sent_at", sa.Text, nullable=False),
)

_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}$")
_EMAIL_IN_TEXT = re.compile(r"[^\s<>(),;:\"]+@[^\s<>(),;:\"]+")
# A token always has a digit, so a ten-letter word is never taken for one.
_TOKEN_IN_TEXT = re.compile(rf"\b(?=[A-Z]*[2-9])([{TOKEN_ALPHABET}]{{{TOKEN_LENGTH}}})\b")


def find_email(text: str) -> str | None:
    """The one valid email address in a message ("my email is a@b.ca"), or None."""
    found = [m.group(0).rstrip(".") for m in _EMAIL_IN_TEXT.finditer(text or "")]
    valid = [e for e in found if is_valid_email(e)]
    return valid[0] if len(valid) == 1 else None


def is_valid_email(address: str) -> bool:
    return len(address) <= 254 and ".." not in address and bool(_EMAIL_RE.match(address))


def find_token(text: str) -> str | None:
    """An unsubscribe code in a message ("unsubscribe K7QX2MPLAB"), or None."""
    match = _TOKEN_IN_TEXT.search((text or "").upper())
    return match.group(1) if match else None


def conversation_hash(sender_id: str) -> str:
    return hashlib.sha256(sender_id.encode()).hexdigest()[:32]


def new_token() -> str:
    while True:
        token = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
        if any(c.isdigit() for c in token):
            return token


@dataclass
class Subscription:
    id: int
    token: str
    email: str
    query: dict
    description: str
    last_run_at: str | None


def subscribe(email: str, query: dict, description: str, sender_id: str, now: dt.datetime,
              db_path: Path | None = None) -> str:
    """Stores a subscription (consent given at `now`) and returns its unsubscribe token."""
    if not is_valid_email(email):
        raise ValueError("not a valid email address")
    token = new_token()
    with shared_store.transaction(SQLITE_FILE, alert_subscriptions, alert_deliveries, db_path=db_path) as conn:
        conn.execute(alert_subscriptions.insert().values(
            token=token, email=email, query=json.dumps(query, sort_keys=True), description=description,
            conversation=conversation_hash(sender_id), consent_at=now.isoformat(), created_at=now.isoformat(),
        ))
    return token


def unsubscribe(*, token: str | None = None, sender_id: str | None = None, db_path: Path | None = None) -> int:
    """Deletes the subscription with `token`, or every one made in the conversation of `sender_id`; the count."""
    if not token and not sender_id:
        return 0
    if not shared_store.exists(SQLITE_FILE, alert_subscriptions, db_path=db_path):
        return 0
    with shared_store.transaction(SQLITE_FILE, alert_subscriptions, alert_deliveries, db_path=db_path) as conn:
        condition = (alert_subscriptions.c.token == token.upper()) if token else (
            alert_subscriptions.c.conversation == conversation_hash(sender_id or ""))
        ids = [r[0] for r in conn.execute(sa.select(alert_subscriptions.c.id).where(condition))]
        if not ids:
            return 0
        conn.execute(alert_deliveries.delete().where(alert_deliveries.c.subscription_id.in_(ids)))
        conn.execute(alert_subscriptions.delete().where(alert_subscriptions.c.id.in_(ids)))
        return len(ids)


def subscriptions(db_path: Path | None = None) -> list[Subscription]:
    if not shared_store.exists(SQLITE_FILE, alert_subscriptions, db_path=db_path):
        return []
    with shared_store.transaction(SQLITE_FILE, alert_subscriptions, alert_deliveries, db_path=db_path) as conn:
        rows = conn.execute(sa.select(alert_subscriptions).order_by(alert_subscriptions.c.id)).fetchall()
    return [Subscription(r.id, r.token, r.email, json.loads(r.query), r.description or "", r.last_run_at)
            for r in rows]


def find_subscription(token: str, db_path: Path | None = None) -> Subscription | None:
    """The subscription with this unsubscribe token, or None; reads only."""
    if not token or not shared_store.exists(SQLITE_FILE, alert_subscriptions, db_path=db_path):
        return None
    with shared_store.transaction(SQLITE_FILE, alert_subscriptions, alert_deliveries, db_path=db_path) as conn:
        row = conn.execute(sa.select(alert_subscriptions)
                           .where(alert_subscriptions.c.token == token.upper())).fetchone()
    if row is None:
        return None
    return Subscription(row.id, row.token, row.email, json.loads(row.query), row.description or "", row.last_run_at)


def delivered(subscription_id: int, db_path: Path | None = None) -> dict[str, str]:
    """notice → version of everything already sent to one subscription."""
    with shared_store.transaction(SQLITE_FILE, alert_subscriptions, alert_deliveries, db_path=db_path) as conn:
        rows = conn.execute(sa.select(alert_deliveries.c.notice, alert_deliveries.c.version)
                            .where(alert_deliveries.c.subscription_id == subscription_id))
        return {r.notice: r.version for r in rows}


def record_delivery(subscription_id: int, sent: dict[str, str], now: dt.datetime,
                    db_path: Path | None = None) -> None:
    """Marks notices (notice → version) as sent and the subscription as run at `now`, in one transaction."""
    with shared_store.transaction(SQLITE_FILE, alert_subscriptions, alert_deliveries, db_path=db_path) as conn:
        for notice, version in sent.items():
            conn.execute(alert_deliveries.delete().where(
                (alert_deliveries.c.subscription_id == subscription_id) & (alert_deliveries.c.notice == notice)))
            conn.execute(alert_deliveries.insert().values(
                subscription_id=subscription_id, notice=notice, version=version, sent_at=now.isoformat()))
        conn.execute(alert_subscriptions.update().where(alert_subscriptions.c.id == subscription_id)
                     .values(last_run_at=now.isoformat()))
