"""One person's data on request, and the retention purge: `python -m bot privacy ...`.

The assistant keeps personal data in two places only: the concierge queue (bot/staff/queue.py) and the
alert subscriptions (bot/alerts/store.py). The tracker store holds no names or email addresses
(bot/tracker_store.py), so a person is found by email address in those two stores.

- `privacy export --email X` prints every record held about X as JSON;
- `privacy delete --email X` deletes them and says what was deleted;
  both exit 1 (a reported problem, as every command here) when nothing is held about X, with a clear message;
- `privacy purge` deletes concierge requests received more than CONCIERGE_RETENTION_DAYS days ago, whatever
  their status (the founder was told their details go after that period), and drafts nobody finished.
  `python -m bot run` runs it at start and then daily.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from bot import clock, settings, shared_store
from bot.alerts import store as alerts_store
from bot.staff import queue

logger = logging.getLogger(__name__)


def _subscriptions_for_email(email: str, db_path: Path | None = None) -> list[dict]:
    table = alerts_store.alert_subscriptions
    if not shared_store.exists(alerts_store.SQLITE_FILE, table, db_path=db_path):
        return []
    with shared_store.transaction(alerts_store.SQLITE_FILE, table, db_path=db_path) as connection:
        rows = connection.execute(sa.select(table).where(sa.func.lower(table.c.email) == email.strip().lower())
                                  .order_by(table.c.id))
        return [dict(row._mapping) for row in rows]


def export_person(email: str, concierge_db: Path | None = None, alerts_db: Path | None = None) -> dict:
    """Every record held about the person with this email address (empty lists when none)."""
    subscriptions = _subscriptions_for_email(email, alerts_db)
    for subscription in subscriptions:
        subscription["query"] = json.loads(subscription["query"] or "{}")
    return {
        "email": email.strip(),
        "concierge_requests": queue.requests_for_email(email, db_path=concierge_db),
        "alert_subscriptions": subscriptions,
    }


def delete_person(email: str, concierge_db: Path | None = None, alerts_db: Path | None = None) -> dict:
    """Deletes every record held about this email address; returns what was deleted."""
    references = queue.delete_for_email(email, db_path=concierge_db)
    subscriptions = _subscriptions_for_email(email, alerts_db)
    if subscriptions:
        ids = [s["id"] for s in subscriptions]
        with shared_store.transaction(alerts_store.SQLITE_FILE, alerts_store.alert_subscriptions,
                                      alerts_store.alert_deliveries, db_path=alerts_db) as connection:
            connection.execute(alerts_store.alert_deliveries.delete().where(
                alerts_store.alert_deliveries.c.subscription_id.in_(ids)))
            connection.execute(alerts_store.alert_subscriptions.delete().where(
                alerts_store.alert_subscriptions.c.id.in_(ids)))
    return {"concierge_requests": references,
            "alert_subscriptions": [s["description"] or s["token"] for s in subscriptions]}


def purge(now: dt.datetime | None = None, days: int | None = None, db_path: Path | None = None) -> int:
    """Deletes concierge requests older than the retention period; returns how many."""
    days = settings.get_int("CONCIERGE_RETENTION_DAYS") if days is None else days
    return queue.purge_older_than(now or clock.now(), days, db_path=db_path)


class RetentionPurger(threading.Thread):
    """Runs the purge at start and then every day, in the background of the web process (`python -m bot web`)."""

    def __init__(self, every_seconds: float = 24 * 3600) -> None:
        super().__init__(name="retention-purge", daemon=True)
        self.every_seconds = every_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                deleted = purge()
            except Exception as error:  # a locked database must not take the assistant down; try again later
                print(f"Concierge retention purge failed ({type(error).__name__}); will retry", flush=True)
            else:
                if deleted:
                    print(f"Concierge retention purge: {deleted} request(s) deleted", flush=True)
            self.stopped.wait(self.every_seconds)

    def stop(self) -> None:
        self.stopped.set()


# ---------------------------------------------------------------- command line


def _valid_email(email: str) -> bool:
    if alerts_store.is_valid_email(email.strip()):
        return True
    print(f"{email!r} is not a valid email address.", file=sys.stderr)
    return False


def cmd_export(args: argparse.Namespace) -> int:
    if not _valid_email(args.email):
        return 1
    found = export_person(args.email)
    if not found["concierge_requests"] and not found["alert_subscriptions"]:
        print(f"No personal data is held for {args.email.strip()}.", file=sys.stderr)
        return 1
    print(json.dumps(found, indent=2, ensure_ascii=False))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    if not _valid_email(args.email):
        return 1
    deleted = delete_person(args.email)
    if not deleted["concierge_requests"] and not deleted["alert_subscriptions"]:
        print(f"No personal data is held for {args.email.strip()}; nothing was deleted.", file=sys.stderr)
        return 1
    print(f"Deleted everything held for {args.email.strip()}:")
    print(f"  concierge requests: {len(deleted['concierge_requests'])}"
          + (f" ({', '.join(deleted['concierge_requests'])})" if deleted["concierge_requests"] else ""))
    print(f"  alert subscriptions: {len(deleted['alert_subscriptions'])}"
          + (f" ({'; '.join(deleted['alert_subscriptions'])})" if deleted["alert_subscriptions"] else ""))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    days = settings.get_int("CONCIERGE_RETENTION_DAYS")
    deleted = purge(days=days)
    print(f"Deleted {deleted} concierge request(s) older than {days} days (CONCIERGE_RETENTION_DAYS).")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    privacy = subparsers.add_parser("privacy", help="export or delete one person's data; purge expired requests")
    commands = privacy.add_subparsers(dest="privacy_command", metavar="COMMAND")
    commands.required = True
    export = commands.add_parser("export", help="print every record held about an email address, as JSON")
    export.add_argument("--email", required=True)
    export.set_defaults(handler=cmd_export)
    delete = commands.add_parser("delete", help="delete every record held about an email address")
    delete.add_argument("--email", required=True)
    delete.set_defaults(handler=cmd_delete)
    purge_parser = commands.add_parser("purge", help="delete concierge requests older than the retention period")
    purge_parser.set_defaults(handler=cmd_purge)
