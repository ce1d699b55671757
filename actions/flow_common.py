"""Glue shared by the guided flows: counting invalid answers and re-prompting, stopping and starting over; and
the apology an action gives when the knowledge store cannot be read."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.procurement import rules
from bot.procurement.parsing import parse_number

INVALID_COUNT_SLOT = "flow_invalid_count"
# After this many invalid answers in a row the flow offers a person (the "after three invalid answers").
INVALID_ANSWERS_BEFORE_OFFER = 3


def invalid_answer(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, response: str,
                   **values: Any) -> dict[str, Any]:
    """Re-prompt with `response`; on the third invalid answer in a row also offer a person. Returns slot values."""
    count = int(tracker.get_slot(INVALID_COUNT_SLOT) or 0) + 1
    dispatcher.utter_message(response=response, **values)
    if count >= INVALID_ANSWERS_BEFORE_OFFER:
        dispatcher.utter_message(response="utter_flow_offer_person")
        count = 0
    return {slot: None, INVALID_COUNT_SLOT: float(count)}


def valid_answer(slot: str, value: Any) -> dict[str, Any]:
    """The slot value, with the invalid-answer count reset."""
    return {slot: value, INVALID_COUNT_SLOT: 0.0}


def latest_entity_values(tracker: Tracker, entity: str) -> list[Any]:
    """Values of `entity` in the latest user message, in order."""
    return [e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == entity]


def reset_events(slots: list[str]) -> list[dict[str, Any]]:
    """Clear a flow's slots (for "start over")."""
    return [SlotSet(name, None) for name in slots] + [SlotSet(INVALID_COUNT_SLOT, 0.0)]


class StartOver(Action, ABC):
    """A flow's "start over": says so, then clears `slots` (the flow's) and the invalid-answer count.

    A subclass sets `slots` and its name(); the action server skips this class itself, as it is abstract.
    """

    slots: list[str]

    @abstractmethod
    def name(self) -> str:
        ...

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_flow_restarting")
        return reset_events(self.slots)


def gave_other_facts(tracker: Tracker, entities: tuple[str, ...]) -> bool:
    """True when the latest message carried one of the flow's entities: the free text was an answer to
    another question (a correction such as "actually it's 90k"), not a bad answer to this one."""
    return any(e.get("entity") in entities for e in tracker.latest_message.get("entities") or [])


def ask_again(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, response: str,
              entities: tuple[str, ...], **values: Any) -> dict[str, Any]:
    """`slot` was not answered: ask it again without a word when the message gave the flow other facts (see
    gave_other_facts), else re-prompt with `response` as invalid_answer does."""
    if gave_other_facts(tracker, entities):
        return {slot: None}
    return invalid_answer(dispatcher, tracker, slot, response, **values)


def amount_answer(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, value: Any,
                  entities: tuple[str, ...], responses: dict[str, str]) -> dict[str, Any]:
    """A dollar amount: kept when plausible, else refused with `responses[problem]` (rules.value_problem),
    quoting the text and, when too large, the amount read.

    Typed text is read as a number only when the message gave the flow no other facts; otherwise the slot is
    asked again quietly, as ask_again does, even if the text holds a number.
    """
    if isinstance(value, str):
        if gave_other_facts(tracker, entities):
            return {slot: None}
        value = parse_number(value)
    problem = rules.value_problem(value)
    if problem is None:
        return valid_answer(slot, value)
    shown = rules.format_cad(value) if problem == "too_large" else None
    return invalid_answer(dispatcher, tracker, slot, responses[problem],
                          answer=tracker.latest_message.get("text") or "", value=shown)


def response_text(domain: dict[str, Any], name: str) -> str:
    """The text of a domain response that is filled into another response rather than sent on its own."""
    return ((domain.get("responses") or {}).get(name) or [{}])[0].get("text", "")


def knowledge_unavailable(dispatcher: CollectingDispatcher, log: logging.Logger) -> list[dict[str, Any]]:
    """Apologise that the knowledge store cannot be read and log why; the action then returns no events.

    Call it inside `except KnowledgeUnavailable:` (the log line carries the exception), with the action module's
    own logger: the log line still names the action's module, function and line.
    """
    # error(exc_info=True) as logger.exception() does: on Python 3.10 exception() miscounts stacklevel.
    log.error("knowledge store unavailable", exc_info=True, stacklevel=2)
    dispatcher.utter_message(response="utter_service_unavailable")
    return []
