"""The registration walkthrough: the registration form's validator, the step it asks, and the summary.

The steps come only from the checklists table (knowledge/tables/checklists.yml); the words around them are
domain responses. Progress (checklist, step index, {step id: done|skipped}) lives in slots that "stop" keeps,
so asking for the walkthrough again in the same conversation resumes where the founder left off.
"""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.flow_common import StartOver, ask_again, invalid_answer, knowledge_unavailable, reset_events, valid_answer
from bot.knowledge.store import KnowledgeUnavailable, get_store
from bot.procurement import registration as reg
from bot.procurement.rules import markdown_steps

logger = logging.getLogger(__name__)

# The form's slots: Rasa asks reg_target with utter_ask_reg_target; action_ask_reg_step sends utter_ask_reg_step
# filled with the current step.
TARGET_SLOT, STEP_SLOT = "reg_target", "reg_step"
CHECKLIST_SLOT, INDEX_SLOT, STATUS_SLOT = "reg_checklist", "reg_index", "reg_status"
PROGRESS_SLOTS = [TARGET_SLOT, STEP_SLOT, CHECKLIST_SLOT, INDEX_SLOT, STATUS_SLOT]
ENTITIES = ("buyer_type",)


def _checklists() -> list[dict]:
    return get_store().table("checklists")


def _state(tracker: Tracker, checklists: list[dict]) -> tuple[dict | None, int]:
    """The checklist being walked through and the index of the current step."""
    checklist = reg.checklist_for(checklists, tracker.get_slot(TARGET_SLOT))
    if checklist is None:
        return None, 0
    return checklist, reg.clamp_index(tracker.get_slot(INDEX_SLOT), len(checklist["steps"]))


class ValidateRegistration(FormValidationAction):
    def name(self) -> str:
        return "validate_registration"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        try:
            checklist, index = _state(tracker, _checklists())
        except KnowledgeUnavailable:
            return domain_slots
        if checklist is not None and reg.is_finished(index, len(checklist["steps"])):
            return [TARGET_SLOT]  # every step answered: the form is complete
        return domain_slots

    def validate_reg_target(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> dict[str, Any]:
        checklists = _checklists()
        checklist = reg.checklist_for(checklists, value if isinstance(value, str) else None)
        if checklist is None:
            return invalid_answer(dispatcher, tracker, TARGET_SLOT, "utter_invalid_reg_target")
        if checklist["id"] == tracker.get_slot(CHECKLIST_SLOT):
            return valid_answer(TARGET_SLOT, value)
        # A new (or changed) target: start its checklist from the first step.
        if tracker.get_slot(CHECKLIST_SLOT):
            dispatcher.utter_message(response="utter_registration_target_changed", checklist_title=checklist["title"])
        return {**valid_answer(TARGET_SLOT, value), CHECKLIST_SLOT: checklist["id"], INDEX_SLOT: 0.0,
                STATUS_SLOT: {}}

    def validate_reg_step(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> dict[str, Any]:
        checklist, index = _state(tracker, _checklists())
        if checklist is None:
            return {STEP_SLOT: None}
        command = value if value in reg.COMMANDS else reg.parse_step_command(str(value or ""))
        if command is None:  # ("actually it's for a municipality" is no bad answer: it changed the target)
            return ask_again(dispatcher, tracker, STEP_SLOT, "utter_invalid_reg_step", ENTITIES,
                             answer=tracker.latest_message.get("text") or "")
        steps = checklist["steps"]
        step = steps[min(index, len(steps) - 1)]
        answered = {**valid_answer(STEP_SLOT, None)}
        if command == reg.WHY:
            dispatcher.utter_message(response="utter_registration_why", title=step["title"], why=step["why"],
                                     url=step.get("url") or "")
            return answered
        if command == reg.BACK:
            previous = reg.previous_index(index)
            if previous is None:
                dispatcher.utter_message(response="utter_registration_at_first_step")
                return answered
            return {**answered, INDEX_SLOT: float(previous)}
        status = reg.update_status(tracker.get_slot(STATUS_SLOT), step["id"], command)
        return {**answered, STATUS_SLOT: status, INDEX_SLOT: float(reg.next_index(index, len(steps)))}


class ActionAskRegStep(Action):
    """Shows the current step of the checklist, with done / skip / why? / back."""

    def name(self) -> str:
        return "action_ask_reg_step"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            checklist, index = _state(tracker, _checklists())
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        if checklist is None:
            dispatcher.utter_message(response="utter_ask_reg_target")
            return []
        step = checklist["steps"][min(index, len(checklist["steps"]) - 1)]
        shown = reg.progress(checklist, index, tracker.get_slot(STATUS_SLOT))
        dispatcher.utter_message(response="utter_ask_reg_step", number=shown.number, total=shown.total,
                                 title=step["title"], detail=step["detail"], url=step.get("url") or "")
        return []


class ActionRegistrationStart(Action):
    """Introduces the walkthrough, or welcomes the founder back to the step they left."""

    def name(self) -> str:
        return "action_registration_start"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            checklist, index = _state(tracker, _checklists())
        except KnowledgeUnavailable:
            checklist, index = None, 0
        if checklist is not None and tracker.get_slot(CHECKLIST_SLOT) == checklist["id"] \
                and not reg.is_finished(index, len(checklist["steps"])):
            shown = reg.progress(checklist, index, tracker.get_slot(STATUS_SLOT))
            dispatcher.utter_message(response="utter_registration_resume", checklist_title=checklist["title"],
                                     number=shown.number, total=shown.total)
            return [SlotSet(STEP_SLOT, None)]
        dispatcher.utter_message(response="utter_registration_intro")
        # A finished (or never started) walkthrough starts afresh.
        return reset_events(PROGRESS_SLOTS)


class ActionRegistrationSummary(Action):
    def name(self) -> str:
        return "action_registration_summary"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            checklist, index = _state(tracker, _checklists())
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        if checklist is None:
            return []
        status = tracker.get_slot(STATUS_SLOT)
        shown = reg.progress(checklist, index, status)
        dispatcher.utter_message(response="utter_registration_summary", checklist_title=checklist["title"],
                                 done=shown.done, total=shown.total, source_title=checklist["source"]["title"],
                                 source_url=checklist["source"]["url"],
                                 last_reviewed=str(checklist["last_reviewed"]))
        skipped = reg.steps_with_status(checklist, status, reg.STATUS_SKIPPED)
        if skipped:
            dispatcher.utter_message(response="utter_registration_skipped", steps=markdown_steps(skipped))
        dispatcher.utter_message(response="utter_registration_next")
        return []


class ActionResetRegistration(StartOver):
    slots = PROGRESS_SLOTS

    def name(self) -> str:
        return "action_reset_registration"
