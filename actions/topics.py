"""Answers from the knowledge base, and the low-confidence fallback that offers the closest topics."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.flow_common import knowledge_unavailable
from bot import clock
from bot.answers import suggestions, topic_replies
from bot.knowledge.store import KnowledgeUnavailable, get_store
from bot.knowledge.training import topic_for_intent

logger = logging.getLogger(__name__)


def _utter(dispatcher: CollectingDispatcher, replies) -> None:
    for reply in replies:
        dispatcher.utter_message(response=reply.response, buttons=reply.buttons or None, **reply.values)


class ActionAnswerTopic(Action):
    def name(self) -> str:
        return "action_answer_topic"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        topic_id = topic_for_intent((tracker.latest_message.get("intent") or {}).get("name"))
        try:
            topic = get_store().get_topic(topic_id) if topic_id else None
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        if topic is None:
            dispatcher.utter_message(response="utter_topic_missing")
            return []
        _utter(dispatcher, topic_replies(topic, clock.today()))
        return [SlotSet("last_topic", topic["title"])]


class ActionFallbackSuggestions(Action):
    def name(self) -> str:
        return "action_fallback_suggestions"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        message = tracker.latest_message
        try:
            store = get_store()
            titles = dict(store.topics())
            found = store.search(message.get("text") or "", limit=3)
        except KnowledgeUnavailable:
            logger.exception("knowledge store unavailable")
            titles, found = {}, []
        buttons = suggestions(message.get("intent_ranking") or [], found, titles)
        if not buttons:
            dispatcher.utter_message(response="utter_default")
            return []
        offer = (domain.get("responses", {}).get("utter_offer_person") or [{}])[0]
        buttons.extend(offer.get("buttons", []))
        dispatcher.utter_message(response="utter_fallback_suggestions", buttons=buttons)
        return []
