"""The guided flows' form validators, "start over" actions and knowledge-store failures, called directly.

Each validator is called as rasa-sdk calls it (the `validate_<slot>` attribute, with the slot's value), and the
returned slot values and the responses sent are checked exactly: the invalid-answer count, the offer of a person
after three invalid answers, and the quiet "ask again" when the message answered another question instead.
"""
from __future__ import annotations

import logging
import sqlite3

import pytest
from async_helpers import run as run_async
from rasa_sdk.events import SlotSet

from actions.bid_readiness import ActionBidChecklist, ActionResetBidReadiness, ValidateBidReadiness
from actions.events import ActionEventsList, ActionResetEvents
from actions.flow_common import INVALID_COUNT_SLOT as COUNT
from actions.glossary import ActionDefineTerm
from actions.handoff import PLACEHOLDER, ValidateConcierge
from actions.msme_profile import ActionMsmeVerdict, ActionResetMsmeProfile, ValidateMsmeProfile
from actions.registration import (
    ActionAskRegStep, ActionRegistrationStart, ActionRegistrationSummary, ActionResetRegistration,
    ValidateRegistration,
)
from actions.rules_check import ActionResetRulesCheck, ActionRulesVerdict, ValidateRulesCheck
from actions.topics import ActionAnswerTopic
from actions.vor_readiness import (
    ActionResetVorReadiness, ActionVorCorrectPrevious, ActionVorVerdict, ValidateVorReadiness,
)
from bot import settings, shared_store
from bot.knowledge import store as knowledge_store
from bot.knowledge.build import build

VOR_SLOTS = ["vor_offering_covered", "vor_otp_registered", "vor_mandatory_requirements", "vor_insurance",
             "vor_security_screening", "vor_master_agreement"]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    knowledge_store.get_store.cache_clear()
    yield tmp_path
    knowledge_store.get_store.cache_clear()
    shared_store.dispose()


@pytest.fixture
def built(data_dir):
    build(settings.path("KNOWLEDGE_DIR"), data_dir / "knowledge.db")
    return data_dir


def draft_answers(sender_id: str) -> tuple:
    """(name, email, company, description) of the conversation's concierge draft."""
    with sqlite3.connect(settings.data_dir() / "concierge.db") as db:
        return db.execute("SELECT name, email, company, description FROM concierge_requests "
                          "WHERE sender_id = ? AND status = 'draft'", (sender_id,)).fetchone()


def with_candidates(tracker_factory, form: str, **candidates):
    """A tracker whose last events are the slot values Rasa extracted for `form` this turn, for validation."""
    events = [*tracker_factory().events,
              *({"event": "slot", "timestamp": 1764000001.0, "name": n, "value": v} for n, v in candidates.items())]
    return tracker_factory(events=events, active_loop={"name": form})


def responses(dispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


def said(text: str, *entities: tuple[str, str], intent: str = "flow_inform") -> dict:
    """A latest message: its text, the entities found in it, and its intent."""
    return {"text": text, "intent": {"name": intent, "confidence": 0.9},
            "entities": [{"entity": name, "value": value} for name, value in entities]}


# ---------------------------------------------------------------- VOR readiness


@pytest.mark.parametrize("slot", VOR_SLOTS)
def test_a_vor_answer_is_kept_and_resets_the_invalid_count(slot, tracker_factory, dispatcher, domain):
    validate = getattr(ValidateVorReadiness(), f"validate_{slot}")
    for answer in ("yes", "no", "not_needed"):
        assert validate(answer, dispatcher, tracker_factory(slots={COUNT: 2.0}), domain) == {slot: answer, COUNT: 0.0}
    assert dispatcher.messages == []


@pytest.mark.parametrize("slot", VOR_SLOTS)
def test_anything_else_is_asked_again_and_the_third_time_a_person_is_offered(slot, tracker_factory, dispatcher,
                                                                            domain):
    validate = getattr(ValidateVorReadiness(), f"validate_{slot}")
    assert validate("maybe", dispatcher, tracker_factory(), domain) == {slot: None, COUNT: 1.0}
    assert responses(dispatcher) == ["utter_invalid_vor_answer"]
    assert validate("maybe", dispatcher, tracker_factory(slots={COUNT: 2.0}), domain) == {slot: None, COUNT: 0.0}
    assert responses(dispatcher) == ["utter_invalid_vor_answer", "utter_invalid_vor_answer", "utter_flow_offer_person"]


def test_rasa_sdk_validates_each_vor_candidate_in_turn(tracker_factory, dispatcher, domain):
    tracker = with_candidates(tracker_factory, "vor_readiness", vor_insurance="maybe", vor_otp_registered="yes")
    events = run_async(ValidateVorReadiness().run(dispatcher, tracker, domain))
    assert events == [SlotSet("vor_insurance", None), SlotSet("vor_otp_registered", "yes"), SlotSet(COUNT, 0.0)]
    assert responses(dispatcher) == ["utter_invalid_vor_answer"]


# ---------------------------------------------------------------- bid readiness: the four yes/no questions


@pytest.mark.parametrize(("slot", "not_needed_allowed"), [
    ("bid_mandatory", False), ("bid_security", True), ("bid_insurance", False), ("bid_partners", True)])
def test_a_bid_answer_is_read_from_the_words(slot, not_needed_allowed, tracker_factory, dispatcher, domain):
    validate = getattr(ValidateBidReadiness(), f"validate_{slot}")
    tracker = tracker_factory(slots={COUNT: 1.0})
    assert validate("yes", dispatcher, tracker, domain) == {slot: "yes", COUNT: 0.0}
    assert validate("yes, we can", dispatcher, tracker, domain) == {slot: "yes", COUNT: 0.0}
    assert validate("nope", dispatcher, tracker, domain) == {slot: "no", COUNT: 0.0}
    # "not needed" is its own answer only where the question offers it; elsewhere "not" reads as "no".
    expected = "not_needed" if not_needed_allowed else "no"
    assert validate("not needed", dispatcher, tracker, domain) == {slot: expected, COUNT: 0.0}
    assert dispatcher.messages == []


@pytest.mark.parametrize(("slot", "not_needed_allowed"), [
    ("bid_mandatory", False), ("bid_security", True), ("bid_insurance", False), ("bid_partners", True)])
def test_the_not_needed_button_counts_only_where_the_question_offers_it(slot, not_needed_allowed, tracker_factory,
                                                                        dispatcher, domain):
    validate = getattr(ValidateBidReadiness(), f"validate_{slot}")
    result = validate("not_needed", dispatcher, tracker_factory(), domain)
    if not_needed_allowed:
        assert result == {slot: "not_needed", COUNT: 0.0}
        assert dispatcher.messages == []
    else:
        assert result == {slot: None, COUNT: 1.0}
        assert responses(dispatcher) == ["utter_invalid_bid_answer"]


@pytest.mark.parametrize("slot", ["bid_mandatory", "bid_security", "bid_insurance", "bid_partners"])
def test_a_closing_date_correction_asks_the_bid_question_again_quietly(slot, tracker_factory, dispatcher, domain):
    validate = getattr(ValidateBidReadiness(), f"validate_{slot}")
    text = "actually it closes March 12"
    message = said(text, ("date", "March 12"), intent="flow_correct")
    tracker = tracker_factory(slots={COUNT: 1.0}, latest_message=message)
    assert validate(text, dispatcher, tracker, domain) == {slot: None}
    assert dispatcher.messages == []


@pytest.mark.parametrize("slot", ["bid_mandatory", "bid_security", "bid_insurance", "bid_partners"])
def test_an_unreadable_bid_answer_is_asked_again(slot, tracker_factory, dispatcher, domain):
    validate = getattr(ValidateBidReadiness(), f"validate_{slot}")
    tracker = tracker_factory(slots={COUNT: 2.0}, latest_message=said("purple"))
    assert validate("purple", dispatcher, tracker, domain) == {slot: None, COUNT: 0.0}
    assert responses(dispatcher) == ["utter_invalid_bid_answer", "utter_flow_offer_person"]


def test_rasa_sdk_validates_each_bid_candidate_in_turn(tracker_factory, dispatcher, domain):
    tracker = with_candidates(tracker_factory, "bid_readiness", bid_security="not needed", bid_partners="purple")
    events = run_async(ValidateBidReadiness().run(dispatcher, tracker, domain))
    assert events == [SlotSet("bid_security", "not_needed"), SlotSet("bid_partners", None), SlotSet(COUNT, 1.0)]
    assert responses(dispatcher) == ["utter_invalid_bid_answer"]


# ---------------------------------------------------------------- MSME profile, which rules apply, registration

# The validators that leave a message alone when it answered another of the flow's questions: (form validator,
# slot, a message that gave other facts, slots the validator needs, the re-prompt for a message that did not).
REG = {"reg_target": "ontario_ministry", "reg_index": 0.0}
NOT_ANSWERS = [
    (ValidateMsmeProfile, "msme_employees", ("revenue is 90k", ("amount", 90000)), {},
     "utter_invalid_msme_employees_not_a_number"),
    (ValidateMsmeProfile, "msme_revenue", ("we are 12 people", ("employees", 12)), {},
     "utter_invalid_msme_revenue_not_a_number"),
    (ValidateMsmeProfile, "msme_ontario", ("we do consulting", ("category", "consulting")), {},
     "utter_invalid_msme_ontario"),
    (ValidateMsmeProfile, "msme_sector", ("we are 12 people", ("employees", 12)), {}, "utter_invalid_msme_sector"),
    (ValidateRulesCheck, "deal_buyer", ("it's about 90k", ("amount", 90000)), {}, "utter_invalid_deal_buyer"),
    (ValidateRulesCheck, "deal_category", ("for a city", ("buyer_type", "municipal")), {},
     "utter_invalid_deal_category"),
    (ValidateRulesCheck, "deal_value", ("for a city", ("buyer_type", "municipal")), {},
     "utter_invalid_deal_value_not_a_number"),
    (ValidateRegistration, "reg_step", ("it's for a city", ("buyer_type", "municipal")), REG,
     "utter_invalid_reg_step"),
]


@pytest.mark.parametrize(("validator", "slot", "other_facts", "slots", "reprompt"), NOT_ANSWERS)
def test_a_message_that_answered_another_question_is_asked_again_quietly(validator, slot, other_facts, slots,
                                                                         reprompt, built, tracker_factory,
                                                                         dispatcher, domain):
    text, *entities = other_facts
    tracker = tracker_factory(slots={**slots, COUNT: 1.0}, latest_message=said(text, *entities))
    assert getattr(validator(), f"validate_{slot}")(text, dispatcher, tracker, domain) == {slot: None}
    assert dispatcher.messages == []


@pytest.mark.parametrize(("validator", "slot", "other_facts", "slots", "reprompt"), NOT_ANSWERS)
def test_a_message_that_answered_nothing_is_asked_again_showing_what_was_typed(validator, slot, other_facts, slots,
                                                                               reprompt, built, tracker_factory,
                                                                               dispatcher, domain):
    validate = getattr(validator(), f"validate_{slot}")
    assert validate("rocks", dispatcher, tracker_factory(slots=slots, latest_message=said("rocks")), domain) == {
        slot: None, COUNT: 1.0}
    tracker = tracker_factory(slots={**slots, COUNT: 2.0}, latest_message=said("rocks"))
    assert validate("rocks", dispatcher, tracker, domain) == {slot: None, COUNT: 0.0}
    assert responses(dispatcher) == [reprompt, reprompt, "utter_flow_offer_person"]
    # The re-prompts that quote the answer quote the message as typed.
    assert {m.get("answer") for m in dispatcher.messages if "answer" in m} <= {"rocks"}


def test_an_employee_count_is_kept_as_a_whole_number(tracker_factory, dispatcher, domain):
    validate = ValidateMsmeProfile().validate_msme_employees
    kept = validate("12", dispatcher, tracker_factory(latest_message=said("12")), domain)
    assert kept == {"msme_employees": 12, COUNT: 0.0} and isinstance(kept["msme_employees"], int)
    assert validate(40.0, dispatcher, tracker_factory(), domain) == {"msme_employees": 40, COUNT: 0.0}
    assert dispatcher.messages == []


def test_a_bad_employee_count_says_what_is_wrong(tracker_factory, dispatcher, domain):
    validate = ValidateMsmeProfile().validate_msme_employees
    for typed, value in (("-3", "-3"), ("a few", "a few"), ("2.5 people", 2.5)):
        assert validate(value, dispatcher, tracker_factory(latest_message=said(typed)), domain) == {
            "msme_employees": None, COUNT: 1.0}
    assert [(m["response"], m["answer"], m["value"]) for m in dispatcher.messages] == [
        ("utter_invalid_msme_employees_negative", "-3", -3.0),
        ("utter_invalid_msme_employees_not_a_number", "a few", "a few"),
        ("utter_invalid_msme_employees_not_whole", "2.5 people", 2.5),
    ]


@pytest.mark.parametrize(("validator", "slot", "invalid"), [
    (ValidateMsmeProfile, "msme_revenue", "utter_invalid_msme_revenue"),
    (ValidateRulesCheck, "deal_value", "utter_invalid_deal_value")])
def test_an_amount_is_kept_or_refused_with_the_reason(validator, slot, invalid, tracker_factory, dispatcher, domain):
    validate = getattr(validator(), f"validate_{slot}")
    assert validate("$ 90,000", dispatcher, tracker_factory(), domain) == {slot: 90000.0, COUNT: 0.0}
    assert validate(60000.0, dispatcher, tracker_factory(), domain) == {slot: 60000.0, COUNT: 0.0}
    assert dispatcher.messages == []
    for typed, value in (("-5000", "-5000"), ("0", "0"), ("a lot", 12345678901.5), ("lots", "lots")):
        assert validate(value, dispatcher, tracker_factory(latest_message=said(typed)), domain) == {
            slot: None, COUNT: 1.0}
    assert [(m["response"], m["answer"], m["value"]) for m in dispatcher.messages] == [
        (f"{invalid}_not_positive", "-5000", None), (f"{invalid}_not_positive", "0", None),
        (f"{invalid}_too_large", "a lot", "$12,345,678,901.50"), (f"{invalid}_not_a_number", "lots", None)]


def test_revenue_may_be_skipped(tracker_factory, dispatcher, domain):
    assert ValidateMsmeProfile().validate_msme_revenue("skipped", dispatcher, tracker_factory(), domain) == {
        "msme_revenue": "skipped", COUNT: 0.0}
    assert ValidateRulesCheck().validate_deal_value("skipped", dispatcher, tracker_factory(), domain) == {
        "deal_value": None, COUNT: 1.0}  # the deal value cannot be skipped


def test_ontario_is_a_yes_or_no(tracker_factory, dispatcher, domain):
    validate = ValidateMsmeProfile().validate_msme_ontario
    assert validate(True, dispatcher, tracker_factory(), domain) == {"msme_ontario": True, COUNT: 0.0}
    assert validate(False, dispatcher, tracker_factory(), domain) == {"msme_ontario": False, COUNT: 0.0}
    assert dispatcher.messages == []


@pytest.mark.parametrize(("validator", "slot"), [(ValidateMsmeProfile, "msme_sector"),
                                                 (ValidateRulesCheck, "deal_category")])
def test_the_narrowest_category_named_is_kept(validator, slot, built, tracker_factory, dispatcher, domain):
    validate = getattr(validator(), f"validate_{slot}")
    both = tracker_factory(latest_message=said("consulting services", ("category", "services"),
                                               ("category", "consulting")))
    assert validate("services", dispatcher, both, domain) == {slot: "consulting", COUNT: 0.0}
    assert validate("goods", dispatcher, tracker_factory(), domain) == {slot: "goods", COUNT: 0.0}
    assert dispatcher.messages == []


def test_the_buyer_must_be_a_known_buyer_type(built, tracker_factory, dispatcher, domain):
    validate = ValidateRulesCheck().validate_deal_buyer
    assert validate("municipal", dispatcher, tracker_factory(), domain) == {"deal_buyer": "municipal", COUNT: 0.0}
    assert validate("city hall", dispatcher, tracker_factory(), domain) == {"deal_buyer": None, COUNT: 1.0}
    assert responses(dispatcher) == ["utter_invalid_deal_buyer"]


def test_a_step_command_moves_the_walkthrough_on(built, tracker_factory, dispatcher, domain):
    validate = ValidateRegistration().validate_reg_step
    result = validate("done", dispatcher, tracker_factory(slots={**REG, COUNT: 1.0}), domain)
    assert result["reg_step"] is None and result[COUNT] == 0.0 and result["reg_index"] == 1.0
    assert list(result["reg_status"].values()) == ["done"]
    assert validate("skip", dispatcher, tracker_factory(), domain) == {"reg_step": None}  # no target yet
    assert dispatcher.messages == []


# ---------------------------------------------------------------- the concierge form


@pytest.mark.parametrize("slot", ["concierge_name", "concierge_email", "concierge_company", "concierge_description"])
def test_a_reset_of_a_concierge_slot_is_not_checked_or_stored(slot, data_dir, tracker_factory, dispatcher, domain):
    tracker = tracker_factory(sender_id="conv-reset", slots={"concierge_topic": "Invoicing"})
    validate = ValidateConcierge()
    validate.validate_concierge_consent(True, dispatcher, tracker, domain)
    assert getattr(validate, f"validate_{slot}")(None, dispatcher, tracker, domain) == {slot: None}
    assert dispatcher.messages == []
    assert draft_answers("conv-reset") == (None, None, None, None)


@pytest.mark.parametrize(("slot", "bad", "good", "stored", "invalid_response"), [
    ("concierge_name", "12345", "  Jane Tremblay ", "Jane Tremblay", "utter_concierge_invalid_name"),
    ("concierge_email", "jane at example", "it's jane@example.ca", "jane@example.ca", "utter_concierge_invalid_email"),
    ("concierge_company", "!!!", " Northwind Inc.", "Northwind Inc.", "utter_concierge_invalid_company"),
    ("concierge_description", "hi", "Help with a bid ", "Help with a bid", "utter_concierge_invalid_description"),
])
def test_a_concierge_answer_is_checked_then_kept_only_in_the_queue(slot, bad, good, stored, invalid_response, data_dir,
                                                                   tracker_factory, dispatcher, domain):
    tracker = tracker_factory(sender_id="conv-answers", slots={"concierge_topic": "Invoicing"})
    validate = ValidateConcierge()
    validate.validate_concierge_consent(True, dispatcher, tracker, domain)
    assert getattr(validate, f"validate_{slot}")(bad, dispatcher, tracker, domain) == {slot: None}
    assert responses(dispatcher) == [invalid_response]
    assert getattr(validate, f"validate_{slot}")(good, dispatcher, tracker, domain) == {slot: PLACEHOLDER}
    assert responses(dispatcher) == [invalid_response]
    fields = ("concierge_name", "concierge_email", "concierge_company", "concierge_description")
    assert draft_answers("conv-answers")[fields.index(slot)] == stored


def concierge_turn(tracker_factory, sender_id: str, requested_slot: str, message: dict):
    return tracker_factory(sender_id=sender_id, slots={"requested_slot": requested_slot, "concierge_consent": True},
                           latest_message=message, active_loop={"name": "concierge"})


@pytest.mark.parametrize("slot", ["concierge_name", "concierge_company", "concierge_description"])
def test_rasa_sdk_takes_the_requested_concierge_answer_from_the_text_and_keeps_it_in_the_queue(
        slot, data_dir, tracker_factory, dispatcher, domain):
    validate = ValidateConcierge()
    validate.validate_concierge_consent(True, dispatcher, tracker_factory(sender_id="conv-run"), domain)
    answer = said(" Northwind Tremblay Inc. ", intent="nlu_fallback")
    tracker = concierge_turn(tracker_factory, "conv-run", slot, answer)
    assert run_async(validate.run(dispatcher, tracker, domain)) == [SlotSet(slot, PLACEHOLDER)]
    fields = ("concierge_name", "concierge_email", "concierge_company", "concierge_description")
    assert draft_answers("conv-run") == tuple("Northwind Tremblay Inc." if f == slot else None for f in fields)
    assert dispatcher.messages == []


@pytest.mark.parametrize(("text", "intent"), [
    ("what is a vendor of record?", "topic_vor_what_is"), ("/stop", "stop"), ("cancel", "stop"),
    ("  ", "nlu_fallback")])
def test_a_question_or_a_command_is_not_taken_as_a_concierge_answer(text, intent, data_dir, tracker_factory,
                                                                    dispatcher, domain):
    validate = ValidateConcierge()
    validate.validate_concierge_consent(True, dispatcher, tracker_factory(sender_id="conv-q"), domain)
    tracker = concierge_turn(tracker_factory, "conv-q", "concierge_company", said(text, intent=intent))
    assert run_async(validate.run(dispatcher, tracker, domain)) == []
    assert draft_answers("conv-q") == (None, None, None, None)


def test_a_concierge_answer_without_a_draft_ends_the_form(data_dir, tracker_factory, dispatcher, domain):
    tracker = tracker_factory(sender_id="conv-no-draft")
    assert ValidateConcierge().validate_concierge_company("Northwind Inc.", dispatcher, tracker, domain) == {
        "concierge_consent": False, "handoff_reference": None, "concierge_company": None}
    assert responses(dispatcher) == ["utter_concierge_failed"]


# ---------------------------------------------------------------- "start over"


@pytest.mark.parametrize(("action", "slots"), [
    (ActionResetVorReadiness, VOR_SLOTS),
    (ActionResetBidReadiness, ["bid_closing_date", "bid_question_deadline", "bid_mandatory", "bid_security",
                               "bid_insurance", "bid_partners", "bid_notice_ref"]),
    (ActionResetMsmeProfile, ["msme_employees", "msme_revenue", "msme_ontario", "msme_sector"]),
    (ActionResetRulesCheck, ["deal_buyer", "deal_category", "deal_value"]),
    (ActionResetEvents, ["events_format", "events_text", "events_window", "events_after", "events_before"]),
    (ActionResetRegistration, ["reg_target", "reg_step", "reg_checklist", "reg_index", "reg_status"]),
])
def test_start_over_says_so_and_clears_the_flow(action, slots, tracker_factory, dispatcher, domain):
    events = action().run(dispatcher, tracker_factory(), domain)
    assert events == [SlotSet(slot, None) for slot in slots] + [SlotSet(COUNT, 0.0)]
    assert responses(dispatcher) == ["utter_flow_restarting"]


def test_the_action_server_serves_exactly_the_domain_actions(domain):
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    assert sorted(executor.actions) == sorted(domain["actions"])


# ---------------------------------------------------------------- the knowledge store cannot be read


@pytest.mark.parametrize("action", [
    ActionVorVerdict, ActionVorCorrectPrevious, ActionBidChecklist, ActionMsmeVerdict, ActionRulesVerdict,
    ActionEventsList, ActionDefineTerm, ActionAskRegStep, ActionRegistrationSummary, ActionAnswerTopic,
])
def test_without_the_knowledge_store_an_action_apologises_and_logs_why(action, data_dir, tracker_factory, dispatcher,
                                                                       domain, caplog):
    (data_dir / "knowledge.db").mkdir()  # a directory where the database file should be
    tracker = tracker_factory(latest_message=said("what is a VOR?", intent="topic_vor_what_is"))
    with caplog.at_level(logging.ERROR):
        assert action().run(dispatcher, tracker, domain) == []
    assert responses(dispatcher) == ["utter_service_unavailable"]
    [record] = [r for r in caplog.records if r.getMessage() == "knowledge store unavailable"]
    assert record.name == action.__module__ and record.levelno == logging.ERROR and record.exc_info
    assert record.funcName == "run" and record.pathname.endswith(action.__module__.replace(".", "/") + ".py")


def test_without_the_knowledge_store_the_walkthrough_still_introduces_itself(data_dir, tracker_factory, dispatcher,
                                                                            domain, caplog):
    (data_dir / "knowledge.db").mkdir()
    events = ActionRegistrationStart().run(dispatcher, tracker_factory(), domain)
    assert responses(dispatcher) == ["utter_registration_intro"]
    assert events[-1] == SlotSet(COUNT, 0.0)
    assert not [r for r in caplog.records if r.getMessage() == "knowledge store unavailable"]
