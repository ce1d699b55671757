"""The market-sounding events flow: the events form's validator and the list of upcoming events."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.flow_common import StartOver, invalid_answer, knowledge_unavailable, valid_answer
from bot import clock
from bot.knowledge.store import KnowledgeUnavailable, get_store
from bot.nlu.dates import resolve_date, resolve_window
from bot.procurement.events import parse_format, topic_words, upcoming_events

logger = logging.getLogger(__name__)

# The form's slot (Rasa asks it with utter_ask_events_format), then the topic and dates the founder gave.
SLOTS = ["events_format", "events_text", "events_window", "events_after", "events_before"]
FORMAT_NAMES = {"online": "utter_events_format_online", "in_person": "utter_events_format_in_person",
                "hybrid": "utter_events_format_hybrid"}


class ValidateEvents(FormValidationAction):
    def name(self) -> str:
        return "validate_events"

    def validate_events_format(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        opening = tracker.get_intent_of_latest_message() == "start_events"
        chosen = (value if value in ("online", "in_person", "any")
                  else parse_format(str(value or ""), allow_any=not opening))
        if chosen:
            return valid_answer("events_format", chosen)
        if opening:
            return {"events_format": None}  # the opening request named no format: just ask
        return invalid_answer(dispatcher, tracker, "events_format", "utter_invalid_events_format")


class ActionEventsList(Action):
    def name(self) -> str:
        return "action_events_list"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            events = get_store().table("events")
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        now = clock.now()
        first_day = last_day = None
        window = resolve_window(tracker.get_slot("events_window") or "", now.date())
        if window:
            first_day, last_day = window
        after = resolve_date(tracker.get_slot("events_after") or "", now.date())
        before = resolve_date(tracker.get_slot("events_before") or "", now.date())
        first_day = after or first_day
        last_day = before or last_day
        found = upcoming_events(events, now, event_format=tracker.get_slot("events_format"),
                                topics=topic_words(tracker.get_slot("events_text") or "", events),
                                first_day=first_day, last_day=last_day)
        if not found:
            dispatcher.utter_message(response="utter_events_none")
        else:
            dispatcher.utter_message(response="utter_events_found", count=len(found))
        for event in found:
            dispatcher.utter_message(
                response="utter_event", title=event["title"], organizer=event["organizer"],
                when=event["starts"].strftime("%A %B %-d, %Y, %-I:%M %p (UTC%z)"),
                format=(domain.get("responses", {}).get(FORMAT_NAMES[event["format"]]) or [{}])[0].get("text", ""),
                location=event["location"], description=event["description"],
                registration_url=event["registration_url"], source_title=event["source"]["title"],
                source_url=event["source"]["url"], last_reviewed=str(event["last_reviewed"]))
        dispatcher.utter_message(response="utter_events_prepare")
        return []


class ActionResetEvents(StartOver):
    slots = SLOTS

    def name(self) -> str:
        return "action_reset_events"
