"""Rasa's SQL tracker store (same tables, same URL: SQLite or a cluster's PostgreSQL), with two changes.

`endpoints.yml` names NavigatorTrackerStore, which is both of the stores below.

1. GuardedSQLTrackerStore — fail loudly during a founder's turn instead of forgetting the conversation.
   Rasa wraps every tracker store in its FailSafeTrackerStore, which catches any error: a failed read (the SQLite
   file locked by another process, a database that is down) becomes "no conversation yet", so the founder — perhaps
   halfway through a form — is answered as a stranger; a failed write (a read-only file, a full disk) goes to an
   in-memory store, so the reply looks normal but the answer is gone at the next message. Neither tells the founder.

   During a turn started by one of our channels (bot.channels wraps it in `guarded_turn`), this store turns such an
   error into ConversationStoreUnavailable, a BaseException so that the fail-safe wrapper lets it through. The
   channel then answers with the domain's `utter_conversation_not_saved` line and the turn is dropped whole: the
   events already stored are untouched, and once the store works again the next message carries on from them.
   Outside a turn (Rasa's HTTP API, start-up) the store behaves exactly as Rasa's.

2. RedactingSQLTrackerStore — the founder's personal details are never written.
   Personal data is kept only in the concierge queue (bot/staff/queue.py) and the alert subscriptions
   (bot/alerts/store.py). The conversation record must not hold a second copy, so before events are written:

   - a founder's message that answered one of the concierge form's personal questions (name, email, company,
     description), or that carries an email address anywhere (the alert email step, or an address typed out of
     turn), keeps its intent but loses its text and entities: both become "[redacted]" / none;
   - a slot event of one of those concierge slots stores "[redacted]" instead of its value;
   - any other slot value (a free-text flow answer) or bot message holding an email address keeps its text with
     each address replaced by "[redacted]".

   The actions read the real answers in the same turn, before the save, and write them to the queue. The SQL
   layout is Rasa's own, so `TRACKER_STORE_URL` works unchanged with SQLite and PostgreSQL (a cluster):

       tracker_store:
         type: bot.tracker_store.NavigatorTrackerStore
         url: ${TRACKER_STORE_URL}
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import json
import logging
import re
from typing import Any, Iterable, Iterator, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

_IN_GUARDED_TURN: contextvars.ContextVar[bool] = contextvars.ContextVar("navigator_guarded_turn", default=False)


class ConversationStoreUnavailable(BaseException):
    """The conversation could not be read or saved; the turn must be dropped and the founder told.

    A BaseException on purpose: Rasa's FailSafeTrackerStore catches Exception and would hide it.
    """


@contextlib.contextmanager
def guarded_turn() -> Iterator[None]:
    """Marks the code inside (one founder message being handled) as able to handle ConversationStoreUnavailable."""
    token = _IN_GUARDED_TURN.set(True)
    try:
        yield
    finally:
        _IN_GUARDED_TURN.reset(token)


class GuardedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose read and write errors, inside a guarded turn, raise ConversationStoreUnavailable."""

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        try:
            return await super().retrieve(sender_id)
        except Exception as error:
            self._raise_for_turn("read", error)
            raise

    async def save(self, tracker: DialogueStateTracker) -> None:
        try:
            await super().save(tracker)
        except Exception as error:
            self._raise_for_turn("save", error)
            raise

    @staticmethod
    def _raise_for_turn(what: str, error: Exception) -> None:
        if _IN_GUARDED_TURN.get():
            # SQLAlchemy's message carries the statement's parameters (the founder's words): name the cause only.
            cause = getattr(error, "orig", None) or error
            raise ConversationStoreUnavailable(
                f"could not {what} the conversation ({type(cause).__name__}: {str(cause).splitlines()[0][:200]})"
            ) from error


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


def _holds_email(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_EMAIL_LIKE.search(value))
    return isinstance(value, list) and any(_holds_email(item) for item in value)


def _without_emails(value: Any) -> Any:
    """The value with every email address replaced by "[redacted]" (strings, and lists of them)."""
    if isinstance(value, str):
        # A sentence's full stop after the address is kept ("... jo@ontario.ca." -> "... [redacted].").
        return _EMAIL_LIKE.sub(lambda found: REDACTED + "." * (len(found[0]) - len(found[0].rstrip("."))), value)
    if isinstance(value, list):
        return [_without_emails(item) for item in value]
    return value


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
            elif _holds_email(event.get("value")):
                # A free-text flow answer (deal_buyer, events_text, ...) filled from a message with an address.
                event = {**event, "value": _without_emails(event.get("value"))}
        elif kind == "bot" and _holds_email(event.get("text")):
            event = {**event, "text": _without_emails(event.get("text"))}  # a reply echoing the answer
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


class NavigatorTrackerStore(GuardedSQLTrackerStore, RedactingSQLTrackerStore):
    """The store `endpoints.yml` names: saves go through the guard, then the redaction, then Rasa's tables."""
