"""Rasa's SQL tracker store, minus the founder's personal details.

Personal data is kept only in the concierge queue (bot/staff/queue.py) and the alert subscriptions
(bot/alerts/store.py). The conversation record must not hold a second copy, so before events are written:

- a founder's message that answered one of the concierge form's personal questions (name, email, company,
  description), or that carries an email address anywhere (the alert email step, or an address typed out of
  turn), keeps its intent but loses its text and entities: both become "[redacted]" / none;
- a slot event of one of those concierge slots stores "[redacted]" instead of its value.

The actions read the real answers in the same turn, before the save, and write them to the queue. The SQL
layout is Rasa's own, so `TRACKER_STORE_URL` works unchanged with SQLite and PostgreSQL (a cluster):

    tracker_store:
      type: bot.tracker_store.RedactingSQLTrackerStore
      url: ${TRACKER_STORE_URL}
"""
from __future__ import annotations

import copy
import json
import logging
import re
from typing import Any, Iterable

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"
CONCIERGE_FORM = "concierge"
PERSONAL_SLOTS = frozenset({"concierge_name", "concierge_email", "concierge_company", "concierge_description"})
EMAIL_INTENT = "give_email"
_EMAIL_LIKE = re.compile(r"[^\s@<>(),;:\"]+@[^\s@<>(),;:\"]+\.[^\s@<>(),;:\"]+")


def _redact_user(event: dict[str, Any]) -> dict[str, Any]:
    redacted = copy.deepcopy(event)
    redacted["text"] = REDACTED
    parse_data = redacted.get("parse_data")
    if isinstance(parse_data, dict):
        parse_data["text"] = REDACTED
        parse_data["entities"] = []
    return redacted


def redact_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events (as dicts, oldest first) with personal answers and personal slot values redacted.

    The whole session is needed, not just the new events: whether a message answered a personal question
    depends on the form and requested slot in force when it arrived.
    """
    active_loop: str | None = None
    requested_slot: str | None = None
    result = []
    for event in events:
        kind = event.get("event")
        if kind == "active_loop":
            active_loop = event.get("name")
        elif kind == "slot":
            if event.get("name") == "requested_slot":
                requested_slot = event.get("value")
            elif event.get("name") in PERSONAL_SLOTS and event.get("value") is not None:
                event = {**event, "value": REDACTED}
        elif kind in {"restart", "session_started"}:
            active_loop = requested_slot = None
        elif kind == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            answering = active_loop == CONCIERGE_FORM and requested_slot in PERSONAL_SLOTS
            if answering or intent == EMAIL_INTENT or _EMAIL_LIKE.search(event.get("text") or ""):
                event = _redact_user(event)
        result.append(event)
    return result


class RedactingSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that writes events through `redact_events`; reading is unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.event_broker is not None:
            logger.warning("RedactingSQLTrackerStore does not stream events to the event broker: "
                           "they would carry personal data the tracker store redacts")

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Never streams: an event broker would receive the unredacted events."""
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the events not yet in the database, redacted (same bookkeeping as SQLTrackerStore.save)."""
        events = redact_events(event.as_dict() for event in tracker.events)
        with self.session_scope() as session:
            already_stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
            for data in events[already_stored:]:
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id,
                    type_name=data.get("event"),
                    timestamp=data.get("timestamp"),
                    intent_name=((data.get("parse_data") or {}).get("intent") or {}).get("name"),
                    action_name=data.get("name"),
                    data=json.dumps(data),
                ))
            session.commit()
        logger.debug("Tracker stored to database (personal answers redacted)")
