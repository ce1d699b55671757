"""Rasa's SQL tracker store, made to fail loudly during a founder's turn instead of forgetting the conversation.

Rasa wraps every tracker store in its FailSafeTrackerStore, which catches any error: a failed read (the SQLite
file locked by another process, a database that is down) becomes "no conversation yet", so the founder — perhaps
halfway through a form — is answered as a stranger; a failed write (a read-only file, a full disk) goes to an
in-memory store, so the reply looks normal but the answer is gone at the next message. Neither tells the founder.

During a turn started by one of our channels (bot.channels wraps it in `guarded_turn`), this store turns such an
error into ConversationStoreUnavailable, a BaseException so that the fail-safe wrapper lets it through. The
channel then answers with the domain's `utter_conversation_not_saved` line and the turn is dropped whole: the
events already stored are untouched, and once the store works again the next message carries on from them.
Outside a turn (Rasa's HTTP API, start-up) the store behaves exactly as Rasa's.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Iterator, Optional, Text

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
