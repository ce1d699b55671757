"""Opportunity search, "more", and explaining one notice: glue between the chat and bot.opportunities."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.flow_common import response_text
from bot import clock
from bot.opportunities import conversation as conv
from bot.opportunities.search import SearchResult, buyer_names, get_notice, search

logger = logging.getLogger(__name__)

BID_READINESS_INTENT = "start_bid_readiness"


def _show_page(dispatcher: CollectingDispatcher, result: SearchResult, offset: int, now) -> None:
    dispatcher.utter_message(response="utter_opportunities_found",
                             **conv.page_values(result.total, result.total_capped, offset, len(result.items)))
    for number, opp in enumerate(result.items, start=offset + 1):
        values = conv.result_values(opp, now, number)
        name = "utter_opportunity_result" if values["link"] else "utter_opportunity_result_no_link"
        dispatcher.utter_message(response=name, **values)
    if conv.has_more(result.total, offset, len(result.items)):
        dispatcher.utter_message(response="utter_opportunities_more_available")
    else:
        dispatcher.utter_message(response="utter_opportunities_end")


class ActionSearchOpportunities(Action):
    def name(self) -> str:
        return "action_search_opportunities"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        now = clock.now()
        message = tracker.latest_message
        try:
            buyers = conv.buyer_phrases(buyer_names())
        except Exception:  # an unreadable store is reported by search() below
            buyers = []
        request = conv.understand(message.get("text") or "", message.get("entities") or [], now,
                                  topics=conv.load_topic_codes(), known_buyers=buyers)
        if conv.is_empty(request.query):
            dispatcher.utter_message(response="utter_opportunities_ask_what")
            return []
        saved = {**conv.query_to_dict(request.query), "filters": "; ".join(request.filters)}
        result = search(request.query, now)
        if not result.available:
            dispatcher.utter_message(response="utter_opportunities_unavailable")
            return []
        if not result.items:
            dispatcher.utter_message(response="utter_opportunities_none_found", filters="; ".join(request.filters))
        else:
            _show_page(dispatcher, result, 0, now)
        return [SlotSet("opportunity_search", saved)]


class ActionMoreResults(Action):
    def name(self) -> str:
        return "action_more_results"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        saved = tracker.get_slot("opportunity_search")
        query = conv.query_from_dict(saved)
        if query is None:
            dispatcher.utter_message(response="utter_opportunities_no_search")
            return []
        now = clock.now()
        query.offset += query.limit
        result = search(query, now)
        if not result.available:
            dispatcher.utter_message(response="utter_opportunities_unavailable")
            return []
        if not result.items:
            dispatcher.utter_message(response="utter_opportunities_no_more")
            return []
        _show_page(dispatcher, result, query.offset, now)
        return [SlotSet("opportunity_search", {**saved, "offset": query.offset})]


class ActionExplainNotice(Action):
    def name(self) -> str:
        return "action_explain_notice"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        ref = next(tracker.get_latest_entity_values("notice_ref"), None)
        parts = conv.split_notice_ref(ref or "")
        opp = get_notice(*parts) if parts else None
        if opp is None:
            dispatcher.utter_message(response="utter_notice_not_found")
            return []
        values = conv.explain_values(opp, clock.now(),
                                     no_description=response_text(domain, "utter_notice_no_description"))
        dispatcher.utter_message(response="utter_notice_explained", **values)
        dispatcher.utter_message(response="utter_notice_trade_agreements" if values["agreements"]
                                 else "utter_notice_no_trade_agreements", **values)
        dispatcher.utter_message(response="utter_notice_set_aside" if values["set_aside"]
                                 else "utter_notice_no_set_aside", **values)
        dispatcher.utter_message(response="utter_notice_security" if values["security"]
                                 else "utter_notice_no_security", **values)
        if values["amended"]:
            dispatcher.utter_message(response="utter_notice_amended", amendment=opp.amendment_number)
        if BID_READINESS_INTENT in (domain.get("intents") or []):
            # The guided flow is optional: offer it only when this assistant has it.
            dispatcher.utter_message(response="utter_offer_bid_readiness")
        else:
            dispatcher.utter_message(response="utter_offer_person_after_notice")
        return []
