"""Plain-language definitions of procurement terms from the knowledge glossary."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.flow_common import knowledge_unavailable
from bot.answers import glossary_entry, glossary_buttons
from bot.knowledge.store import KnowledgeUnavailable, get_store

logger = logging.getLogger(__name__)


class ActionDefineTerm(Action):
    def name(self) -> str:
        return "action_define_term"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        try:
            glossary = get_store().table("glossary")
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        terms = [e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == "term"]
        entries = [entry for entry in (glossary_entry(glossary, term) for term in terms) if entry]
        if not entries:
            dispatcher.utter_message(response="utter_glossary_unknown", buttons=glossary_buttons(glossary))
            return []
        for entry in entries[:2]:
            dispatcher.utter_message(response="utter_glossary_definition", **entry)
        return []
