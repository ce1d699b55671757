"""The "which rules apply to me" flow: the rules_check form's validator and its verdict."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.flow_common import (
    StartOver, amount_answer, ask_again, knowledge_unavailable, latest_entity_values, valid_answer,
)
from bot import clock
from bot.knowledge.store import KnowledgeUnavailable, get_store
from bot.procurement import rules

logger = logging.getLogger(__name__)

# The form's slots; Rasa asks each with utter_ask_<slot>.
SLOTS = ["deal_buyer", "deal_category", "deal_value"]
INVALID_VALUE = {
    "not_a_number": "utter_invalid_deal_value_not_a_number",
    "not_positive": "utter_invalid_deal_value_not_positive",
    "too_large": "utter_invalid_deal_value_too_large",
}
ENTITIES = ("buyer_type", "category", "amount")
TABLES = ("methods", "trade_agreements", "preferences", "buyer_types", "categories", "checklists")


def _ids(table: str) -> set[str]:
    return {row["id"] for row in get_store().table(table)}


class ValidateRulesCheck(FormValidationAction):
    def name(self) -> str:
        return "validate_rules_check"

    def validate_deal_buyer(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> dict[str, Any]:
        if value in _ids("buyer_types"):
            return valid_answer("deal_buyer", value)
        return ask_again(dispatcher, tracker, "deal_buyer", "utter_invalid_deal_buyer", ENTITIES)

    def validate_deal_category(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        # "consulting services" names two categories; Rasa keeps the last, the narrower one is meant.
        category = rules.pick_category(latest_entity_values(tracker, "category") or [value])
        if category in _ids("categories"):
            return valid_answer("deal_category", category)
        return ask_again(dispatcher, tracker, "deal_category", "utter_invalid_deal_category", ENTITIES)

    def validate_deal_value(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> dict[str, Any]:
        return amount_answer(dispatcher, tracker, "deal_value", value, ENTITIES, INVALID_VALUE)


class ActionRulesVerdict(Action):
    def name(self) -> str:
        return "action_rules_verdict"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            store = get_store()
            tables = {name: store.table(name) for name in TABLES}
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        buyer, category = tracker.get_slot("deal_buyer"), tracker.get_slot("deal_category")
        value = tracker.get_slot("deal_value")
        verdict = rules.decide_rules(tables, buyer, category, value, clock.today())
        deal = {"buyer": rules.name_of(tables["buyer_types"], buyer),
                "category": rules.name_of(tables["categories"], category), "value": rules.format_cad(value)}
        method = verdict.method
        if method is None:
            dispatcher.utter_message(response="utter_rules_method_unknown", **deal)
        else:
            dispatcher.utter_message(response="utter_rules_method", **deal, **_provenance(method),
                                     method=method["method"], summary=method["summary"],
                                     posting=method.get("posting") or "-")
            if method.get("min_suppliers"):
                dispatcher.utter_message(response="utter_rules_method_min_suppliers",
                                         min_suppliers=method["min_suppliers"])
        for row in verdict.agreements:
            dispatcher.utter_message(response="utter_rules_agreement", **_provenance(row), agreement=row["agreement"],
                                     name=row["name"], threshold=rules.format_cad(row["min_value"]),
                                     summary=row["summary"])
        if not verdict.agreements:
            dispatcher.utter_message(response="utter_rules_no_agreement")
        for row in verdict.preferences:
            dispatcher.utter_message(response="utter_rules_preference", **_provenance(row), name=row["name"],
                                     threshold=rules.format_cad(row["max_value"]) if row.get("max_value") else "-",
                                     summary=row["summary"])
        if not verdict.preferences:
            dispatcher.utter_message(response="utter_rules_no_preference")
        elif tracker.get_slot("msme_ontario") is False:  # tailored by the MSME profile, when the founder gave one
            dispatcher.utter_message(response="utter_rules_preference_not_ontario")
        checklist = rules.registration_checklist(tables["checklists"], buyer)
        if checklist:
            dispatcher.utter_message(response="utter_rules_next_steps", **_provenance(checklist),
                                     checklist_title=checklist["title"],
                                     steps=rules.markdown_steps(rules.next_steps(tables["checklists"], buyer)))
        return []


class ActionResetRulesCheck(StartOver):
    slots = SLOTS

    def name(self) -> str:
        return "action_reset_rules_check"


def _provenance(row: dict[str, Any]) -> dict[str, Any]:
    return {"source_title": row["source"]["title"], "source_url": row["source"]["url"],
            "effective_date": str(row.get("effective_date") or "-"), "last_reviewed": str(row["last_reviewed"])}
