"""Email alerts for the last search: consent, then the address, then the subscription; and unsubscribe.

The email address is read from the founder's message and written only to bot.alerts.store: never to a slot,
an event or a log line.
"""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import clock
from bot.alerts import store
from bot.alerts.unsubscribe import link_prefix

logger = logging.getLogger(__name__)


def _saved_search(tracker: Tracker) -> dict | None:
    saved = tracker.get_slot("opportunity_search")
    return saved if isinstance(saved, dict) else None


class ActionOfferAlerts(Action):
    def name(self) -> str:
        return "action_offer_alerts"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        saved = _saved_search(tracker)
        if saved is None:
            dispatcher.utter_message(response="utter_opportunities_no_search")
            return []
        dispatcher.utter_message(response="utter_ask_alert_consent", filters=saved.get("filters") or "your search")
        return [SlotSet("alert_consent", None)]


class ActionAskAlertEmail(Action):
    def name(self) -> str:
        return "action_ask_alert_email"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        if _saved_search(tracker) is None:
            dispatcher.utter_message(response="utter_opportunities_no_search")
            return []
        dispatcher.utter_message(response="utter_ask_alert_email")
        return [SlotSet("alert_consent", True)]


class ActionSubscribeAlerts(Action):
    """Runs on an email address (give_email) and on "no thanks" (decline_alerts)."""

    def name(self) -> str:
        return "action_subscribe_alerts"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "decline_alerts":
            dispatcher.utter_message(response="utter_alert_declined")
            return [SlotSet("alert_consent", None)]
        saved = _saved_search(tracker)
        if saved is None:
            dispatcher.utter_message(response="utter_opportunities_no_search")
            return []
        if tracker.get_slot("alert_consent") is not True:
            dispatcher.utter_message(response="utter_alert_needs_consent")
            return []
        email = store.find_email(tracker.latest_message.get("text") or "")
        if email is None:
            dispatcher.utter_message(response="utter_alert_email_invalid")
            return []
        query = {k: v for k, v in saved.items() if k != "filters"}
        try:
            token = store.subscribe(email, query, saved.get("filters") or "", tracker.sender_id, clock.now())
        except Exception:  # the address must not reach the log: report the failure without the exception text
            logger.error("could not save an alert subscription")
            dispatcher.utter_message(response="utter_alert_failed")
            return []
        dispatcher.utter_message(response="utter_alert_subscribed", filters=saved.get("filters") or "your search",
                                 token=token, link=f"{link_prefix()}{token}")
        return [SlotSet("alert_consent", None)]


class ActionUnsubscribeAlerts(Action):
    def name(self) -> str:
        return "action_unsubscribe_alerts"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        token = store.find_token(tracker.latest_message.get("text") or "")
        try:
            count = store.unsubscribe(token=token) if token else store.unsubscribe(sender_id=tracker.sender_id)
        except Exception:
            logger.exception("could not delete an alert subscription")
            dispatcher.utter_message(response="utter_alert_failed")
            return []
        if count:
            dispatcher.utter_message(response="utter_alert_unsubscribed", count=count)
        else:
            dispatcher.utter_message(response="utter_alert_nothing_to_unsubscribe")
        return []
