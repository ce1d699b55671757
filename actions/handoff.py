"""The request for a person."""
from __future__ import annotations

import hashlib
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import clock
from bot.handoff import record_handoff

logger = logging.getLogger(__name__)

GENERAL_TOPIC = "general help"


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        topic = tracker.get_slot("last_topic") or GENERAL_TOPIC
        conversation = hashlib.sha256(tracker.sender_id.encode()).hexdigest()[:16]
        try:
            reference = record_handoff(topic, clock.now(), conversation)
        except Exception:  # a full disk or locked file must not leave the founder without an answer
            logger.exception("could not record a handoff request")
            dispatcher.utter_message(response="utter_handoff_failed")
            return []
        dispatcher.utter_message(response="utter_handoff_recorded", topic=topic, reference=reference)
        return []
