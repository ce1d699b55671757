"""The VOR readiness flow: the vor_readiness form's validator and its verdict."""
from __future__ import annotations

import logging
from functools import partialmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.flow_common import StartOver, invalid_answer, knowledge_unavailable, valid_answer
from bot.knowledge.store import KnowledgeUnavailable, get_store
from bot.procurement.rules import markdown_steps
from bot.procurement.parsing import parse_yes_no
from bot.procurement.vor_readiness import ANSWERS, decide_vor, previous_requirement, slot_name

logger = logging.getLogger(__name__)

# The form's slots, one per row of vor_readiness.yml; Rasa asks each with utter_ask_<slot>.
SLOTS = ["vor_offering_covered", "vor_otp_registered", "vor_mandatory_requirements", "vor_insurance",
         "vor_security_screening", "vor_master_agreement"]
VERDICTS = {"ready": "utter_vor_verdict_ready", "nearly_ready": "utter_vor_verdict_nearly_ready",
            "not_the_route": "utter_vor_verdict_not_the_route"}


class ValidateVorReadiness(FormValidationAction):
    """Every answer is yes/no (or "not needed" where the form offers it); anything else is asked again."""

    def name(self) -> str:
        return "validate_vor_readiness"

    def _answer(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                domain: DomainDict) -> dict[str, Any]:
        if value in ANSWERS:
            return valid_answer(slot, value)
        return invalid_answer(dispatcher, tracker, slot, "utter_invalid_vor_answer")

    # rasa-sdk calls validate_<slot>(value, dispatcher, tracker, domain).
    validate_vor_offering_covered = partialmethod(_answer, "vor_offering_covered")
    validate_vor_otp_registered = partialmethod(_answer, "vor_otp_registered")
    validate_vor_mandatory_requirements = partialmethod(_answer, "vor_mandatory_requirements")
    validate_vor_insurance = partialmethod(_answer, "vor_insurance")
    validate_vor_security_screening = partialmethod(_answer, "vor_security_screening")
    validate_vor_master_agreement = partialmethod(_answer, "vor_master_agreement")


class ActionVorVerdict(Action):
    def name(self) -> str:
        return "action_vor_verdict"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            rows = get_store().table("vor_readiness")
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        answers = {row["id"]: tracker.get_slot(slot_name(row["id"])) for row in rows}
        verdict = decide_vor(rows, answers)
        dispatcher.utter_message(response=VERDICTS[verdict.verdict])
        for row in verdict.unmet:
            dispatcher.utter_message(response="utter_vor_reason", requirement=row["requirement"],
                                     summary=row["summary"], source_title=row["source"]["title"],
                                     source_url=row["source"]["url"], last_reviewed=str(row["last_reviewed"]))
        steps = [{"title": r["next_step"], "url": r.get("url")} for r in verdict.next_steps]
        dispatcher.utter_message(response="utter_vor_next_steps", steps=markdown_steps(steps))
        return []


class ActionVorCorrectPrevious(Action):
    """ "Actually no": changes the answer to the question asked just before (the last one after the verdict)."""

    def name(self) -> str:
        return "action_vor_correct_previous"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            rows = get_store().table("vor_readiness")
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        row = previous_requirement(rows, tracker.get_slot("requested_slot"))
        answer = parse_yes_no(tracker.latest_message.get("text") or "")
        if row is None or answer is None:
            dispatcher.utter_message(response="utter_vor_correction_unclear")
            return []
        dispatcher.utter_message(response="utter_vor_corrected", requirement=row["requirement"], answer=answer)
        return [SlotSet(slot_name(row["id"]), answer)]


class ActionResetVorReadiness(StartOver):
    slots = SLOTS

    def name(self) -> str:
        return "action_reset_vor_readiness"
