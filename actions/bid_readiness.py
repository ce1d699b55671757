"""The bid readiness flow: the bid_readiness form's slot extraction and validation, the checklist with dates
counted back from the closing date, and the calendar file link."""
from __future__ import annotations

import datetime as dt
import logging
from functools import partialmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.flow_common import (
    StartOver, invalid_answer, knowledge_unavailable, latest_entity_values, response_text, valid_answer,
)
from bot import clock
from bot.knowledge.store import KnowledgeUnavailable, get_store
from bot.nlu.dates import resolve_date, resolve_window
from bot.opportunities import conversation as conv
from bot.opportunities.search import get_notice
from bot.procurement import bid_readiness as bid
from bot.procurement.parsing import parse_yes_no

logger = logging.getLogger(__name__)

# The form's slots (Rasa asks each with utter_ask_<slot>), then the notice the flow may have started from.
SLOTS = ["bid_closing_date", "bid_question_deadline", "bid_mandatory", "bid_security", "bid_insurance",
         "bid_partners", "bid_notice_ref"]
VERDICTS = {bid.BID: "utter_bid_verdict_bid", bid.BID_WITH_GAPS: "utter_bid_verdict_bid_with_gaps",
            bid.NO_BID: "utter_bid_verdict_no_bid"}
GAPS = {"security": "utter_bid_gap_security", "insurance": "utter_bid_gap_insurance",
        "partners": "utter_bid_gap_partners"}
# Intents whose free text answers the question being asked (a topic question is answered, not taken as a date).
ANSWER_INTENTS = ("flow_inform", "flow_correct", "nlu_fallback", "out_of_scope")
NOT_STATED = "not_stated"
DAY_FORMAT = "%A %B %-d, %Y"


def _date_in_message(tracker: Tracker, today: dt.date) -> dt.date | None:
    """The first date the latest message names ("March 12", "2027-03-12", "tomorrow"), resolved against today."""
    for value in latest_entity_values(tracker, "date"):
        day = resolve_date(str(value or ""), today)
        if day:
            return day
    for value in latest_entity_values(tracker, "closing_window"):
        window = resolve_window(str(value or ""), today)
        if window and window[0] == window[1]:
            return window[0]
    return None


def _closing_candidate(tracker: Tracker, today: dt.date) -> str | None:
    """The closing as a slot value ("YYYY-MM-DD" or an ISO date-time with offset), or None without a date."""
    day = _date_in_message(tracker, today)
    if day is None:
        return None
    return bid.closing_value(day, bid.parse_time(tracker.latest_message.get("text") or ""), clock.EASTERN)


def _show(moment: dt.date | dt.datetime, domain: DomainDict) -> str:
    if isinstance(moment, dt.datetime):
        local = moment.astimezone(clock.EASTERN)
        return local.strftime(DAY_FORMAT + ", %-I:%M %p (%Z)")
    return f"{moment.strftime(DAY_FORMAT)} ({response_text(domain, 'utter_bid_time_not_given')})"


def _notice(ref: str | None):
    parts = conv.split_notice_ref(ref or "")
    return get_notice(*parts) if parts else None


class ValidateBidReadiness(FormValidationAction):
    def name(self) -> str:
        return "validate_bid_readiness"

    # ------------------------------------------------------------ extraction of the two date slots

    async def extract_bid_closing_date(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> dict[str, Any]:
        intent = tracker.get_intent_of_latest_message()
        requested = tracker.get_slot("requested_slot")
        text = tracker.latest_message.get("text") or ""
        today = clock.today()
        if intent == "start_bid_readiness" and requested is None:
            opp = _notice(tracker.get_slot("bid_notice_ref"))
            if opp is not None and opp.closing is not None:
                dispatcher.utter_message(response="utter_bid_using_notice", title=opp.title_en,
                                         reference=opp.reference, closing=_show(opp.closing, domain))
                return {"bid_closing_date": opp.closing.astimezone(clock.EASTERN).isoformat()}
            candidate = _closing_candidate(tracker, today)
            return {"bid_closing_date": candidate} if candidate else {}
        if requested == "bid_closing_date" and intent in (*ANSWER_INTENTS, "start_bid_readiness"):
            return {"bid_closing_date": _closing_candidate(tracker, today) or text}
        if intent not in ANSWER_INTENTS:
            return {}
        if bid.mentions_closing(text):  # "actually it closes March 12" while answering something else
            candidate = _closing_candidate(tracker, today)
            if candidate and candidate != tracker.get_slot("bid_closing_date"):
                return {"bid_closing_date": candidate}
        return {}

    async def extract_bid_question_deadline(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                            domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "bid_question_deadline":
            return {}
        intent = tracker.get_intent_of_latest_message()
        if intent == "flow_skip":
            return {"bid_question_deadline": NOT_STATED}
        if intent not in ANSWER_INTENTS:
            return {}
        text = tracker.latest_message.get("text") or ""
        if bid.mentions_closing(text):
            return {}  # a correction of the closing date, handled by extract_bid_closing_date
        day = _date_in_message(tracker, clock.today())
        return {"bid_question_deadline": day.isoformat() if day else text}

    # ------------------------------------------------------------ validation

    def validate_bid_closing_date(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        moment = bid.parse_moment(value if isinstance(value, str) else None)
        if moment is None:
            return invalid_answer(dispatcher, tracker, "bid_closing_date", "utter_invalid_bid_closing_date",
                                  answer=str(value or ""))
        today = clock.today()
        closing_day = bid.day_of(moment, clock.EASTERN)
        past = closing_day < today or (isinstance(moment, dt.datetime) and moment < clock.now())
        if past:
            return invalid_answer(dispatcher, tracker, "bid_closing_date", "utter_invalid_bid_closing_date_past",
                                  date=_show(moment, domain))
        events = valid_answer("bid_closing_date", value)
        if tracker.get_slot("requested_slot") not in (None, "bid_closing_date"):
            dispatcher.utter_message(response="utter_bid_closing_corrected", closing=_show(moment, domain))
        deadline = bid.parse_moment(tracker.get_slot("bid_question_deadline") or "")
        if isinstance(deadline, dt.date) and bid.question_deadline_problem(bid.day_of(deadline, clock.EASTERN),
                                                                           closing_day):
            events["bid_question_deadline"] = None  # no longer before closing: ask again
        return events

    def validate_bid_question_deadline(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> dict[str, Any]:
        if value == NOT_STATED:
            return valid_answer("bid_question_deadline", NOT_STATED)
        day = bid.parse_moment(value if isinstance(value, str) else None)
        if day is None:
            return invalid_answer(dispatcher, tracker, "bid_question_deadline",
                                  "utter_invalid_bid_question_deadline", answer=str(value or ""))
        closing = bid.parse_moment(tracker.get_slot("bid_closing_date") or "")
        closing_day = bid.day_of(closing, clock.EASTERN) if closing else None
        if bid.question_deadline_problem(bid.day_of(day, clock.EASTERN), closing_day):
            return invalid_answer(dispatcher, tracker, "bid_question_deadline",
                                  "utter_invalid_bid_question_deadline_after_closing",
                                  date=bid.day_of(day, clock.EASTERN).strftime(DAY_FORMAT),
                                  closing=closing_day.strftime(DAY_FORMAT))
        return valid_answer("bid_question_deadline", value)

    def _answer(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                domain: DomainDict) -> dict[str, Any]:
        """The check shared by the yes/no questions; `slot` is bid_<question> (bid.QUESTIONS)."""
        allowed = bid.allowed_answers(slot.removeprefix("bid_"))
        if isinstance(value, str) and value not in bid.ANSWERS:
            value = "not_needed" if "not_needed" in allowed and bid.says_not_needed(value) else parse_yes_no(value)
        if value in allowed:
            return valid_answer(slot, value)
        text = tracker.latest_message.get("text") or ""
        if bid.mentions_closing(text) and latest_entity_values(tracker, "date"):
            return {slot: None}  # the message corrected the closing date; ask this question again
        return invalid_answer(dispatcher, tracker, slot, "utter_invalid_bid_answer")

    # rasa-sdk calls validate_<slot>(value, dispatcher, tracker, domain).
    validate_bid_mandatory = partialmethod(_answer, "bid_mandatory")
    validate_bid_security = partialmethod(_answer, "bid_security")
    validate_bid_insurance = partialmethod(_answer, "bid_insurance")
    validate_bid_partners = partialmethod(_answer, "bid_partners")


class ActionBidChecklist(Action):
    def name(self) -> str:
        return "action_bid_checklist"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            found = bid.checklist(get_store().table("checklists"))
        except KnowledgeUnavailable:
            return knowledge_unavailable(dispatcher, logger)
        closing = bid.parse_moment(tracker.get_slot("bid_closing_date") or "")
        if found is None or closing is None:
            dispatcher.utter_message(response="utter_service_unavailable")
            return []
        now = clock.now()
        today = now.date()
        answers = {q: tracker.get_slot(f"bid_{q}") for q in bid.QUESTIONS}
        decision = bid.decide_bid(answers)
        dispatcher.utter_message(response=VERDICTS[decision.verdict])
        if decision.verdict == bid.BID_WITH_GAPS:
            for gap in decision.gaps:
                dispatcher.utter_message(response=GAPS[gap])

        closing_day = bid.day_of(closing, clock.EASTERN)
        days = (closing_day - today).days
        today_note = (response_text(domain, "utter_bid_closes_today") if days == 0
                      else response_text(domain, "utter_bid_closes_tomorrow") if days == 1
                      else response_text(domain, "utter_bid_closes_in_days").format(days=days))
        line = response_text(domain, "utter_bid_step_line")
        steps = []
        for planned in bid.schedule(found["steps"], closing_day, today):
            note = (response_text(domain, "utter_bid_step_passed") if planned.passed
                    else response_text(domain, "utter_bid_step_today") if planned.today else "")
            steps.append(line.format(date=planned.due.strftime(DAY_FORMAT), title=planned.step["title"],
                                     url=planned.step.get("url") or found["source"]["url"], note=note))
        deadline_value = tracker.get_slot("bid_question_deadline")
        deadline = bid.parse_moment(deadline_value) if deadline_value != NOT_STATED else None
        dispatcher.utter_message(
            response="utter_bid_checklist", closing=_show(closing, domain), today_note=today_note,
            question_deadline=(bid.day_of(deadline, clock.EASTERN).strftime(DAY_FORMAT) if deadline
                               else response_text(domain, "utter_bid_question_deadline_not_stated")),
            steps="\n".join(steps), checklist_title=found["title"], source_url=found["source"]["url"],
            last_reviewed=str(found["last_reviewed"]))

        opp = _notice(tracker.get_slot("bid_notice_ref"))
        title = opp.title_en if opp is not None else response_text(domain, "utter_bid_calendar_untitled")
        query = bid.ics_query(
            closing=tracker.get_slot("bid_closing_date"),
            closing_summary=response_text(domain, "utter_bid_calendar_closing").format(title=title),
            question_deadline=deadline_value if deadline else None,
            question_summary=response_text(domain, "utter_bid_calendar_questions").format(title=title),
            stamp=now, reference=opp.reference if opp is not None else "")
        dispatcher.utter_message(response="utter_bid_calendar", ics_url=f"{bid.ICS_PATH}?{query}")
        return []


class ActionResetBidReadiness(StartOver):
    slots = SLOTS

    def name(self) -> str:
        return "action_reset_bid_readiness"
