"""The concierge queue: founders who asked for a person and agreed to leave their contact details.

This table is the only place the assistant keeps a founder's name, email, company and description (with the
alert subscriptions for email alerts). While the founder is still answering, the row is a "draft" that only
the conversation itself sees: the answers are written here as they arrive, so neither the conversation's
slots nor the tracker store ever hold them (bot/tracker_store.py). A draft becomes a request ("new") when the
last answer is in; staff then mark it "contacted" or "closed".

Shared writes (bot.shared_store): `DATA_DIR/concierge.db` on one machine, the tracker store's PostgreSQL
database in a cluster. Times are stored as UTC ISO strings so they sort and compare as text.
"""
from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bot import shared_store

SQLITE_FILE = "concierge.db"
DRAFT = "draft"
STATUSES = ("new", "contacted", "closed")
PERSONAL_FIELDS = ("name", "email", "company", "description")
# A draft nobody finished (the founder closed the tab) is deleted by the purge after this long.
DRAFT_LIFETIME = dt.timedelta(days=1)

concierge_requests = sa.Table(
    "concierge_requests",
    shared_store.METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(16), unique=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("topic", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("company", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("consent_at", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_changed_at", sa.Text, nullable=False),
)


class RequestNotFound(LookupError):
    """No concierge request has that id."""


def utc_text(at: dt.datetime) -> str:
    """A timezone-aware time as the UTC ISO text the table stores."""
    if at.tzinfo is None:
        raise ValueError("times in the concierge queue must be timezone-aware")
    return at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _transaction(db_path: Path | None):
    return shared_store.transaction(SQLITE_FILE, concierge_requests, db_path=db_path)


def _has_table(db_path: Path | None) -> bool:
    return shared_store.exists(SQLITE_FILE, concierge_requests, db_path=db_path)


# ---------------------------------------------------------------- the conversation's side


def start_draft(sender_id: str, topic: str, consent_at: dt.datetime, db_path: Path | None = None) -> int:
    """Opens a draft for this conversation (replacing an unfinished one) when the founder consents."""
    at = utc_text(consent_at)
    with _transaction(db_path) as connection:
        connection.execute(concierge_requests.delete().where(
            (concierge_requests.c.sender_id == sender_id) & (concierge_requests.c.status == DRAFT)))
        result = connection.execute(concierge_requests.insert().values(
            created_at=at, sender_id=sender_id, topic=topic, consent_at=at, status=DRAFT, status_changed_at=at))
        return int(result.inserted_primary_key[0])


def update_draft(sender_id: str, field: str, value: str, db_path: Path | None = None) -> bool:
    """Writes one answer into this conversation's draft; False when there is no draft (consent missing)."""
    if field not in PERSONAL_FIELDS:
        raise ValueError(f"not a concierge field: {field}")
    with _transaction(db_path) as connection:
        result = connection.execute(concierge_requests.update().where(
            (concierge_requests.c.sender_id == sender_id) & (concierge_requests.c.status == DRAFT)
        ).values({field: value}))
        return result.rowcount > 0


def submit_draft(sender_id: str, now: dt.datetime, db_path: Path | None = None) -> str | None:
    """Turns the complete draft into a "new" request and returns its reference (e.g. "C00042").

    None when there is no draft or an answer is missing (the founder must not get a reference for nothing).
    """
    at = utc_text(now)
    with _transaction(db_path) as connection:
        row = connection.execute(sa.select(concierge_requests).where(
            (concierge_requests.c.sender_id == sender_id) & (concierge_requests.c.status == DRAFT)
        ).order_by(concierge_requests.c.id.desc())).first()
        if row is None or any(not getattr(row, field) for field in PERSONAL_FIELDS):
            return None
        reference = f"C{row.id:05d}"
        connection.execute(concierge_requests.update().where(concierge_requests.c.id == row.id).values(
            reference=reference, status="new", created_at=at, status_changed_at=at))
        return reference


def discard_draft(sender_id: str, db_path: Path | None = None) -> int:
    """Deletes this conversation's unfinished draft (the founder cancelled or declined); returns how many."""
    if not _has_table(db_path):
        return 0
    with _transaction(db_path) as connection:
        return connection.execute(concierge_requests.delete().where(
            (concierge_requests.c.sender_id == sender_id) & (concierge_requests.c.status == DRAFT))).rowcount


# ---------------------------------------------------------------- the staff side


def list_requests(status: str | None = None, db_path: Path | None = None) -> list[dict]:
    """Submitted requests (never drafts), newest first; only those with `status` when given."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    if not _has_table(db_path):
        return []
    query = sa.select(concierge_requests).where(concierge_requests.c.status != DRAFT)
    if status is not None:
        query = query.where(concierge_requests.c.status == status)
    with _transaction(db_path) as connection:
        rows = connection.execute(query.order_by(concierge_requests.c.id.desc()))
        return [dict(row._mapping) for row in rows]


def set_status(request_id: int, status: str, now: dt.datetime | None = None,
               db_path: Path | None = None) -> dict:
    """Marks a submitted request new, contacted or closed and returns it; RequestNotFound for an unknown id."""
    from bot import clock

    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    try:
        request_id = int(request_id)
    except (TypeError, ValueError):
        raise RequestNotFound(f"no concierge request {request_id!r}") from None
    if not _has_table(db_path):
        raise RequestNotFound(f"no concierge request {request_id}")
    with _transaction(db_path) as connection:
        where = (concierge_requests.c.id == request_id) & (concierge_requests.c.status != DRAFT)
        changed = connection.execute(concierge_requests.update().where(where).values(
            status=status, status_changed_at=utc_text(now or clock.now()))).rowcount
        if not changed:
            raise RequestNotFound(f"no concierge request {request_id}")
        return dict(connection.execute(sa.select(concierge_requests).where(where)).one()._mapping)


def queue_html(csrf_token: str, status: str | None = None, db_path: Path | None = None,
               zone: ZoneInfo | None = None) -> str:
    """The queue as an HTML fragment: one table row per request, with a transcript link and a status form; the
    times in `zone` (default REPORT_TIMEZONE, the staff pages' zone)."""
    from bot.staff.report import time_html
    from bot.staff.tracker_events import report_zone

    requests = list_requests(status, db_path=db_path)
    if not requests:
        return '<p class="queue-empty">No concierge requests yet.</p>'
    zone = zone or report_zone()
    esc = html.escape
    rows = []
    for request in requests:
        options = "".join(
            f'<option value="{s}"{" selected" if s == request["status"] else ""}>{s}</option>' for s in STATUSES)
        transcript = f'/staff/conversations/{quote(request["sender_id"], safe="")}'
        rows.append(
            f'<tr id="request-{request["id"]}" data-status="{esc(request["status"])}">'
            f'<td>{esc(request["reference"] or "")}</td>'
            f'<td>{time_html(dt.datetime.fromisoformat(request["created_at"]), zone)}</td>'
            f'<td>{esc(request["topic"] or "")}</td>'
            f'<td>{esc(request["name"] or "")}</td>'
            f'<td><a href="mailto:{esc(request["email"] or "")}">{esc(request["email"] or "")}</a></td>'
            f'<td>{esc(request["company"] or "")}</td>'
            f'<td>{esc(request["description"] or "")}</td>'
            f'<td><a href="{esc(transcript)}">Transcript</a></td>'
            f'<td class="status-{esc(request["status"])}">{esc(request["status"])}</td>'
            f'<td><form method="post" action="/staff/queue/status">'
            f'<input type="hidden" name="request_id" value="{request["id"]}">'
            f'<input type="hidden" name="csrf" value="{esc(csrf_token)}">'
            f'<label>Status for {esc(request["reference"] or "")}'
            f' <select name="status">{options}</select></label> '
            f'<button type="submit">Update</button></form></td>'
            "</tr>")
    head = "".join(f'<th scope="col">{h}</th>' for h in (
        "Reference", "Received", "Topic", "Name", "Email", "Company", "Description", "Conversation", "Status",
        "Change status"))
    return (f'<table class="concierge-queue"><caption>Concierge requests ({len(requests)})</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


# ---------------------------------------------------------------- retention and requests from a person


def purge_older_than(now: dt.datetime, days: int, db_path: Path | None = None) -> int:
    """Deletes every request received more than `days` ago, whatever its status, and stale drafts.

    Whatever the status: the founder was told the details are deleted after the retention period, so an
    unanswered request does not stay longer. Returns how many rows were deleted.
    """
    if days < 1:
        raise ValueError("the retention period must be at least one day")
    if not _has_table(db_path):
        return 0
    cutoff = utc_text(now - dt.timedelta(days=days))
    draft_cutoff = utc_text(now - DRAFT_LIFETIME)
    c = concierge_requests.c
    with _transaction(db_path) as connection:
        return connection.execute(concierge_requests.delete().where(
            (c.created_at < cutoff) | ((c.status == DRAFT) & (c.created_at < draft_cutoff)))).rowcount


def requests_for_email(email: str, db_path: Path | None = None) -> list[dict]:
    """Every row (drafts included) with this email address, compared case-insensitively."""
    if not _has_table(db_path):
        return []
    with _transaction(db_path) as connection:
        rows = connection.execute(sa.select(concierge_requests).where(
            sa.func.lower(concierge_requests.c.email) == email.strip().lower()).order_by(concierge_requests.c.id))
        return [dict(row._mapping) for row in rows]


def delete_for_email(email: str, db_path: Path | None = None) -> list[str]:
    """Deletes every row with this email address; returns their references ("draft" for unfinished ones)."""
    found = requests_for_email(email, db_path=db_path)
    if not found:
        return []
    with _transaction(db_path) as connection:
        connection.execute(concierge_requests.delete().where(
            concierge_requests.c.id.in_([row["id"] for row in found])))
    return [row["reference"] or DRAFT for row in found]
