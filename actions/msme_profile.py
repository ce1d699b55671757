"""The optional MSME profile: the msme_profile form's validator and the size verdict."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.flow_common import (
    StartOver, amount_answer, ask_again, gave_other_facts, invalid_answer, knowledge_unavailable,
    latest_entity_values, response_text, valid_answer,
)
from bot.knowledge.store import KnowledgeUnavailable, get_store
from bot.procurement import rules
from bot.procurement.business_size import classify_size, employees_problem
from bot.procurement.parsing import parse_number

logger = logging.getLogger(__name__)

# The form's slots; Rasa asks each with utter_ask_<slot>.
SLOTS = ["msme_employees", "msme_revenue", "msme_ontario", "msme_sector"]
INVALID_EMPLOYEES = {
    "not_a_number": "utter_invalid_msme_employees_not_a_number",
    "negative": "utter_invalid_msme_employees_negative",
    "not_whole": "utter_invalid_msme_employees_not_whole",
    "too_large": "utter_invalid_msme_employees_too_large",
}
INVALID_REVENUE = {
    "not_a_number": "utter_invalid_msme_revenue_not_a_number",
    "not_positive": "utter_invalid_msme_revenue_not_positive",
    "too_large": "utter_invalid_msme_revenue_too_large",
}
SIZE_RESPONSES = {"band": "utter_msme_size_band", "below": "utter_msme_size_below", "above": "utter_msme_size_above"}
ENTITIES = ("employees", "amount", "category")


class ValidateMsmeProfile(FormValidationAction):
    def name(self) -> str:
        return "validate_msme_profile"

    def validate_msme_employees(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        if isinstance(value, str):
            if gave_other_facts(tracker, ENTITIES):
                return {"msme_employees": None}
            value = parse_number(value)
        problem = employees_problem(value)
        if problem is None:
            return valid_answer("msme_employees", int(value))
        return invalid_answer(dispatcher, tracker, "msme_employees", INVALID_EMPLOYEES[problem],
                              answer=tracker.latest_message.get("text") or "", value=value)

    def validate_msme_revenue(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        if value == "skipped":
            return valid_answer("msme_revenue", value)
        return amount_answer(dispatcher, tracker, "msme_revenue", value, ENTITIES, INVALID_REVENUE)

    def validate_msme_ontario(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        if isinstance(value, bool):
            return valid_answer("msme_ontario", value)
        return ask_again(dispatcher, tracker, "msme_ontario", "utter_invalid_msme_ontario", ENTITIES)

    def validate_msme_sector(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        sector = rules.pick_category(latest_entity_values(tracker, "category") or [value])
        if sector is not None:
            return valid_answer("msme_sector", sector)
        return ask_again(dispatcher, tracker, "msme_sector", "utter_invalid_msme_sector", ENTITIES)


class ActionMsmeVerdict(Action):
    def name(self) -> str:
        return "action_msme_verdict"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            store = get_store()
            sizes, categories = store.table("business_size"), store.table("categories")
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        employees, revenue = tracker.get_slot("msme_employees"), tracker.get_slot("msme_revenue")
        dispatcher.utter_message(
            response="utter_msme_profile", employees=employees,
            revenue=(response_text(domain, "utter_msme_revenue_not_given") if revenue == "skipped"
                     else rules.format_cad(revenue)),
            ontario=response_text(domain, "utter_msme_word_yes" if tracker.get_slot("msme_ontario")
                                  else "utter_msme_word_no"),
            sector=rules.name_of(categories, tracker.get_slot("msme_sector")),
        )
        verdict = classify_size(sizes, employees)
        dispatcher.utter_message(response=SIZE_RESPONSES[verdict.kind], employees=employees,
                                 **_size_values(verdict.row))
        for other in verdict.bands:
            if other["id"] != verdict.row["id"]:
                dispatcher.utter_message(response="utter_msme_size_also", **_size_values(other))
        dispatcher.utter_message(response="utter_msme_next")
        return []


class ActionResetMsmeProfile(StartOver):
    slots = SLOTS

    def name(self) -> str:
        return "action_reset_msme_profile"


def _size_values(row: dict[str, Any]) -> dict[str, Any]:
    return {"size_name": row["name"], "min_employees": row["min_employees"], "max_employees": row["max_employees"],
            "summary": row["summary"], "source_title": row["source"]["title"], "source_url": row["source"]["url"],
            "last_reviewed": str(row["last_reviewed"])}
