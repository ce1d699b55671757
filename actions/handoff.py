"""The request for a person: an anonymous topic+time record, then the concierge form (with consent).

The founder's answers (name, email, company, description) go straight into the concierge queue's draft
(bot.staff.queue) in the turn they are typed; the slots only ever hold a placeholder, so the answers never
travel back to the Rasa server in a slot, and bot.tracker_store redacts the messages that carried them.
"""
from __future__ import annotations

import hashlib
import logging
from functools import partialmethod
from typing import Any, Callable

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import clock, settings
from bot.alerts.store import find_email
from bot.concierge import is_question, read_company, read_description, read_name
from bot.handoff import record_handoff
from bot.staff import queue

logger = logging.getLogger(__name__)

GENERAL_TOPIC = "general help"
FORM = "concierge"
PLACEHOLDER = "[kept in the concierge queue]"
PERSONAL_SLOTS = {
    "concierge_name": "name",
    "concierge_email": "email",
    "concierge_company": "company",
    "concierge_description": "description",
}


def reset_slots() -> list[dict]:
    return [SlotSet(slot, None) for slot in ("concierge_consent", *PERSONAL_SLOTS)]


def concierge_consent_message(topic: str, reference: str) -> dict[str, Any]:
    return {"response": "utter_ask_concierge_consent", "topic": topic, "reference": reference,
            "retention_days": settings.get_int("CONCIERGE_RETENTION_DAYS")}


class ActionRequestHuman(Action):
    """Records the topic and time (nothing personal), then the rules start the concierge form."""

    def name(self) -> str:
        return "action_request_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        active = (tracker.active_loop or {}).get("name")
        if active == FORM:
            dispatcher.utter_message(response="utter_concierge_in_progress")
            return []
        topic = tracker.get_slot("last_topic") or GENERAL_TOPIC
        conversation = hashlib.sha256(tracker.sender_id.encode()).hexdigest()[:16]
        try:
            reference = record_handoff(topic, clock.now(), conversation)
        except Exception:  # a full disk or locked file must not leave the founder without an answer
            logger.exception("could not record a handoff request")
            dispatcher.utter_message(response="utter_handoff_failed")
            # The form then ends at once: consent is already "no" and there is no reference to give.
            return [SlotSet("concierge_consent", False), SlotSet("handoff_reference", None)]
        if active:
            # Mid-way through another guided flow: note the request and let that flow carry on.
            dispatcher.utter_message(response="utter_handoff_recorded", topic=topic, reference=reference)
            return []
        return [*reset_slots(), SlotSet("concierge_topic", topic), SlotSet("handoff_reference", reference)]


class ActionAskConciergeConsent(Action):
    def name(self) -> str:
        return "action_ask_concierge_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        dispatcher.utter_message(**concierge_consent_message(tracker.get_slot("concierge_topic") or GENERAL_TOPIC,
                                                             tracker.get_slot("handoff_reference") or ""))
        return []


class ValidateConcierge(FormValidationAction):
    def name(self) -> str:
        return "validate_concierge"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> list[str]:
        if tracker.get_slot("concierge_consent") is False:
            return ["concierge_consent"]  # declined: the form ends and nothing personal is asked
        return domain_slots

    # ---- extraction: the answer is the message text, unless the message is a question or a command

    def _answer(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker,
                domain: dict[str, Any]) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            return {}
        message = tracker.latest_message or {}
        intent = (message.get("intent") or {}).get("name") or ""
        text = (message.get("text") or "").strip()
        if not text or text.startswith("/") or is_question(intent, text, slot == "concierge_description"):
            return {}
        return {slot: text}

    # rasa-sdk calls extract_<slot>(dispatcher, tracker, domain).
    extract_concierge_name = partialmethod(_answer, "concierge_name")
    extract_concierge_email = partialmethod(_answer, "concierge_email")
    extract_concierge_company = partialmethod(_answer, "concierge_company")
    extract_concierge_description = partialmethod(_answer, "concierge_description")

    # ---- validation: store the answer in the queue's draft, keep only a placeholder in the slot

    def validate_concierge_consent(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        if value is True:
            try:
                queue.start_draft(tracker.sender_id, tracker.get_slot("concierge_topic") or GENERAL_TOPIC,
                                  clock.now())
            except Exception:
                logger.error("could not open a concierge request")  # no exception text: it may hold data
                dispatcher.utter_message(response="utter_concierge_failed")
                return {"concierge_consent": False, "handoff_reference": None}
        return {"concierge_consent": value}

    def _keep(self, slot: str, read: Callable[[str], str | None], invalid_response: str, value: Any,
              dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        """`read` gives the answer to keep, or None when the text is not acceptable."""
        if value is None:  # a reset (a new request starting), not an answer: nothing to check or say
            return {slot: None}
        kept = read(str(value or ""))
        if kept is None:
            dispatcher.utter_message(response=invalid_response)
            return {slot: None}
        try:
            stored = queue.update_draft(tracker.sender_id, PERSONAL_SLOTS[slot], kept)
        except Exception:
            logger.error("could not save a concierge answer")
            stored = False
        if not stored:
            dispatcher.utter_message(response="utter_concierge_failed")
            return {"concierge_consent": False, "handoff_reference": None, slot: None}
        return {slot: PLACEHOLDER}

    # rasa-sdk calls validate_<slot>(value, dispatcher, tracker, domain).
    validate_concierge_name = partialmethod(_keep, "concierge_name", read_name, "utter_concierge_invalid_name")
    validate_concierge_email = partialmethod(_keep, "concierge_email", find_email, "utter_concierge_invalid_email")
    validate_concierge_company = partialmethod(_keep, "concierge_company", read_company,
                                               "utter_concierge_invalid_company")
    validate_concierge_description = partialmethod(_keep, "concierge_description", read_description,
                                                   "utter_concierge_invalid_description")


class ActionConciergeSubmit(Action):
    """The form ended: queue the request (consent given) or give the general contact route (declined)."""

    def name(self) -> str:
        return "action_concierge_submit"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        topic = tracker.get_slot("concierge_topic") or GENERAL_TOPIC
        if tracker.get_slot("concierge_consent") is not True:
            try:
                queue.discard_draft(tracker.sender_id)
            except Exception:  # the founder still gets the general route; the purge removes the draft later
                logger.error("could not discard a concierge draft")
            reference = tracker.get_slot("handoff_reference")
            if reference:  # without one, the failure was already explained
                dispatcher.utter_message(response="utter_concierge_declined", topic=topic)
            return reset_slots()
        try:
            reference = queue.submit_draft(tracker.sender_id, clock.now())
        except Exception:
            logger.error("could not submit a concierge request")
            reference = None
        if reference is None:
            dispatcher.utter_message(response="utter_concierge_failed")
            return reset_slots()
        dispatcher.utter_message(response="utter_concierge_recorded", reference=reference)
        return reset_slots()


class ActionConciergeCancel(Action):
    def name(self) -> str:
        return "action_concierge_cancel"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        try:
            queue.discard_draft(tracker.sender_id)
        except Exception:
            logger.error("could not discard a concierge draft")
        dispatcher.utter_message(response="utter_concierge_cancelled")
        return reset_slots()
