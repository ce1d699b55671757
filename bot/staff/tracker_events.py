"""Read-only access to Rasa's SQL tracker store (the `events` table), split into conversations.

The staff report and the knowledge-gap finder read the store with SQLAlchemy only: no Rasa import at report
time, and no write (a SQLite file is opened read-only, so a missing file is reported, not created).

A *conversation* is one Rasa session of one sender: the events from a `session_started` event to the next
(or to the sender's last event). A conversation belongs to the local day (REPORT_TIMEZONE, Ontario's by
default) of its first user message, and conversations without any user message are ignored (the widget opens
sessions before the founder types). Rasa stores UTC epoch seconds; a local day starts at local midnight, so it
lasts 23 or 25 hours on the days the clocks change.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bot import settings

UTC = dt.timezone.utc


_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def display_text(text: str, limit: int | None = None) -> str:
    """A message as staff pages show it: control and bidi-override characters dropped, optionally shortened."""
    text = _HIDDEN.sub("", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


class TrackerStoreError(Exception):
    """The tracker store cannot be read (missing file, no `events` table, bad URL)."""


def report_zone() -> ZoneInfo:
    """The time zone whose days the report counts (REPORT_TIMEZONE); settings.SettingError when unknown."""
    return settings.get_zone("REPORT_TIMEZONE")


def default_tracker_url() -> str:
    """The tracker store the running assistant writes to: TRACKER_STORE_URL, else DATA_DIR/tracker.db."""
    return settings.get("TRACKER_STORE_URL") or f"sqlite:///{settings.path('DATA_DIR') / 'tracker.db'}"


@dataclass
class Event:
    id: int
    sender_id: str
    type_name: str
    timestamp: float
    intent_name: str | None
    action_name: str | None
    raw_data: str | None = field(default=None, repr=False)

    @cached_property
    def data(self) -> dict:
        """The event as Rasa serialized it; parsed on first use (most events are never looked into)."""
        try:
            parsed = json.loads(self.raw_data) if self.raw_data else {}
        except (TypeError, ValueError):
            return {}
        return parsed if isinstance(parsed, dict) else {}

    @property
    def time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp, UTC)

    @property
    def text(self) -> str:
        return self.data.get("text") or ""

    @property
    def metadata(self) -> dict:
        return self.data.get("metadata") or {}

    @property
    def utter_action(self) -> str | None:
        """The response a bot message came from (Rasa puts it in the BotUttered metadata)."""
        return self.metadata.get("utter_action")

    @property
    def parse_data(self) -> dict:
        return self.data.get("parse_data") or {}


@dataclass
class Conversation:
    sender_id: str
    events: list[Event] = field(default_factory=list)

    @property
    def user_events(self) -> list[Event]:
        return [e for e in self.events if e.type_name == "user"]

    @property
    def started(self) -> dt.datetime | None:
        users = self.user_events
        return users[0].time if users else None

    def day(self, zone: dt.tzinfo) -> dt.date | None:
        """The day in `zone` of the first user message: the day the conversation counts on."""
        started = self.started
        return started.astimezone(zone).date() if started else None


def _engine(url: str) -> sa.engine.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except Exception as error:  # SQLAlchemy raises ArgumentError for malformed URLs
        raise TrackerStoreError(f"not a database URL: {url!r} ({error})") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            raise TrackerStoreError(f"no tracker store at {database or url!r}: no conversations recorded yet?")
        # Read-only: the report must never create or lock the assistant's database for writing.
        uri = f"file:{Path(database).resolve()}?mode=ro"
        return sa.create_engine("sqlite://", creator=lambda: __import__("sqlite3").connect(uri, uri=True))
    try:
        return sa.create_engine(url)
    except Exception as error:
        raise TrackerStoreError(f"cannot open the tracker store {parsed!r}: {error}") from None


_COLUMNS = "id, sender_id, type_name, timestamp, intent_name, action_name, data"


def _rows(url: str, sql: str, params: dict) -> list[tuple]:
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))
    except sa.exc.SQLAlchemyError as error:
        message = str(error.orig) if getattr(error, "orig", None) else str(error)
        if "no such table" in message or "does not exist" in message:
            raise TrackerStoreError("the tracker store has no events table: no conversations recorded yet?") from None
        raise TrackerStoreError(f"cannot read the tracker store: {message.splitlines()[0]}") from None
    finally:
        engine.dispose()


def _event(row: tuple) -> Event:
    return Event(int(row[0]), row[1], row[2], float(row[3] or 0.0), row[4], row[5], row[6])


def sender_events(url: str, sender_id: str) -> list[Event]:
    """Every event of one sender, in the order Rasa wrote them."""
    rows = _rows(url, f"SELECT {_COLUMNS} FROM events WHERE sender_id = :sender ORDER BY id", {"sender": sender_id})
    return [_event(row) for row in rows]


def day_bounds(start: dt.date, end: dt.date, zone: dt.tzinfo) -> tuple[float, float]:
    """UTC epoch seconds of local midnight starting `start` and of the one ending `end`, in `zone`.

    Each bound is converted on its own (never start + 24 h per day): a day the clocks change is 23 or 25 hours.
    fold=0 takes the first of two midnights, or the transition itself where midnight is skipped.
    """
    low = dt.datetime.combine(start, dt.time(), zone).timestamp()
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).timestamp()
    return low, high


def split_sessions(events: Iterable[Event]) -> Iterator[Conversation]:
    """Cuts one sender's events (in id order) into sessions at each `session_started` event."""
    current: Conversation | None = None
    for event in events:
        starts_session = event.type_name == "session_started" or (
            event.type_name == "action" and event.action_name == "action_session_start")
        if current is None or current.sender_id != event.sender_id or (
                starts_session and any(e.type_name == "user" for e in current.events)):
            if current is not None:
                yield current
            current = Conversation(event.sender_id)
        current.events.append(event)
    if current is not None:
        yield current


def conversations(url: str, start: dt.date, end: dt.date, zone: dt.tzinfo | None = None) -> list[Conversation]:
    """The conversations whose first user message falls on a day from `start` to `end` (inclusive) in `zone`
    (default REPORT_TIMEZONE)."""
    low, high = day_bounds(start, end, zone or report_zone())
    # A conversation that began in range may run on past midnight: take every event of the senders seen in
    # range, then keep the sessions by their first user message.
    rows = _rows(
        url,
        f"SELECT {_COLUMNS} FROM events WHERE sender_id IN ("
        "SELECT DISTINCT sender_id FROM events WHERE type_name = 'user' AND timestamp >= :low AND timestamp < :high"
        ") ORDER BY sender_id, id",
        {"low": low, "high": high},
    )
    found = []
    for conversation in split_sessions(_event(row) for row in rows):
        started = conversation.started
        if started is not None and low <= started.timestamp() < high:
            found.append(conversation)
    found.sort(key=lambda c: (c.started, c.sender_id))
    return found
