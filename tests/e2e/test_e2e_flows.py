"""Guided flows over the REST channel: full conversations, checked against the verdicts the tables imply."""
from __future__ import annotations

import pytest

from bot import clock, settings
from bot.knowledge.loader import load_knowledge
from bot.procurement import rules

pytestmark = pytest.mark.e2e

TABLES = load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables


def _text(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def _buttons(replies: list[dict]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def _expected(buyer: str, category: str, value: float) -> rules.RulesVerdict:
    return rules.decide_rules(TABLES, buyer, category, value, clock.today())


def test_rules_check_in_one_message_gives_the_full_verdict(new_chat):
    chat = new_chat()
    replies = chat.send("which rules apply to a 60k goods contract with a hospital")
    text = _text(replies)
    expected = _expected("bps", "goods", 60000)
    assert expected.method is not None
    assert f"**Procurement method:** {expected.method['method']}" in text
    assert expected.method["posting"] in text
    assert expected.method["source"]["url"] in text and str(expected.method["effective_date"]) in text
    assert "$60,000" in text and rules.name_of(TABLES["buyer_types"], "bps") in text
    for row in expected.preferences:
        assert row["name"] in text and row["source"]["url"] in text
    if not expected.agreements:
        assert "none of the trade-agreement thresholds" in text
    first_step = rules.next_steps(TABLES["checklists"], "bps")[0]
    assert "What to do next" in text and first_step["title"] in text


def test_rules_check_step_by_step_with_interruption_invalid_answer_and_correction(new_chat):
    chat = new_chat()
    replies = chat.send("which rules apply to me")
    assert "Who is the buyer?" in _text(replies)
    assert '/flow_inform{"buyer_type": "ontario_ministry"}' in _buttons(replies)

    replies = chat.send("explain vendor of record to me")  # a question mid-flow is answered, then the flow resumes
    text = _text(replies)
    assert "Source:" in text and text.rstrip().endswith("Who is the buyer?")

    replies = chat.send('/flow_inform{"buyer_type": "ontario_ministry"}')
    assert "What are you selling?" in _text(replies)
    replies = chat.send("consulting services")
    assert "how much is the contract worth" in _text(replies)

    replies = chat.send("-5000")
    assert "more than zero" in _text(replies) and "how much is the contract worth" in _text(replies)

    services = _expected("ontario_ministry", "consulting", 60000)
    replies = chat.send("about 60k")
    text = _text(replies)
    assert f"**Procurement method:** {services.method['method']}" in text and "$60,000" in text
    assert rules.name_of(TABLES["categories"], "consulting") in text

    # A correction after the verdict re-runs it with the new value: just at the trade-agreement threshold.
    threshold = next(r for r in TABLES["trade_agreements"]
                     if r["buyer"] == "ontario_ministry" and r["category"] == "consulting")["min_value"]
    replies = chat.send(f"actually it is {threshold}")
    text = _text(replies)
    corrected = _expected("ontario_ministry", "consulting", threshold)
    assert corrected.agreements and f"**Trade agreement: {corrected.agreements[0]['agreement']}**" in text
    assert f"**Procurement method:** {corrected.method['method']}" in text
    assert rules.format_cad(threshold) in text


def test_rules_check_offers_a_person_after_three_invalid_answers_and_can_be_stopped(new_chat):
    chat = new_chat()
    chat.send("which rules apply to me")
    chat.send('/flow_inform{"buyer_type": "bps"}')
    chat.send('/flow_inform{"category": "goods"}')
    first = _text(chat.send("banana"))
    assert "couldn't read an amount" in first and "talk to a person" not in first
    chat.send("blorp")
    third = chat.send("zzz qqq")
    assert "/request_human" in _buttons(third)
    stopped = _text(chat.send("stop"))
    assert "I've stopped" in stopped
    # After stopping, an amount is no longer taken as an answer to the flow.
    assert "Procurement method" not in _text(chat.send("hello"))


SIZES = TABLES["business_size"]


def test_msme_profile_step_by_step_names_the_size_from_the_table(new_chat):
    from bot.procurement.business_size import classify_size

    chat = new_chat()
    assert "How many paid employees" in _text(chat.send("am i a small business"))
    nested = min(SIZES, key=lambda r: r["max_employees"] - r["min_employees"])
    count = nested["max_employees"]  # at the edge of the narrowest band
    replies = chat.send(str(count))
    assert "annual revenue" in _text(replies) and "/flow_skip" in _buttons(replies)
    assert "more than zero" in _text(chat.send("-500"))
    replies = chat.send("/flow_skip")
    assert "/flow_yes" in _buttons(replies)
    replies = chat.send("explain vendor of record to me")  # answered, then the flow asks its question again
    assert "Source:" in _text(replies) and "/flow_yes" in _buttons(replies)
    assert "mainly sell" in _text(chat.send("yes"))
    text = _text(chat.send("consulting services"))
    verdict = classify_size(SIZES, count)
    assert f"Paid employees: {count}" in text and "Annual revenue: not given" in text
    assert "in Ontario: yes" in text and "Mainly sells: Consulting services" in text
    assert f"**Size: {verdict.row['name']}**" in text and verdict.row["source"]["url"] in text
    for other in verdict.bands:
        assert other["name"] in text


def test_msme_profile_in_one_message_above_all_bands_and_it_tailors_the_rules_check(new_chat):
    from bot.procurement.business_size import classify_size

    chat = new_chat()
    above = max(r["max_employees"] for r in SIZES) + 1
    chat.send(f"we have {above} employees, are we a small business")
    chat.send("about 3M")
    chat.send("no")
    text = _text(chat.send("/flow_inform{\"category\": \"goods\"}"))
    verdict = classify_size(SIZES, above)
    assert verdict.kind == "above" and f"with {above} paid employees" in text and "larger than every band" in text
    assert "in Ontario: no" in text and "Annual revenue: $3,000,000" in text

    # The profile says "no Ontario presence": a deal where an Ontario-business preference applies says so.
    pref = next(r for r in TABLES["preferences"] if r.get("max_value"))
    value = pref["max_value"] - 1
    text = _text(chat.send(f"which rules apply to a {value} dollar {pref['category']} contract with "
                           f"{'a hospital' if pref['buyer'] == 'bps' else 'an ontario ministry'}"))
    assert pref["name"] in text and "may not help you" in text


VOR_ROWS = TABLES["vor_readiness"]


def _answer_vor(chat, answers: dict[str, str]) -> list[dict]:
    """Answers every VOR question in file order with the buttons' payloads; returns the last replies."""
    payloads = {"yes": "/flow_yes", "no": "/flow_no", "not_needed": "/flow_skip"}
    replies = []
    for row in VOR_ROWS:
        replies = chat.send(payloads[answers[row["id"]]])
    return replies


def test_vor_readiness_all_yes_is_ready(new_chat):
    from bot.procurement.vor_readiness import READY, decide_vor

    chat = new_chat()
    replies = chat.send("am i ready for a vendor of record arrangement")
    assert "/flow_yes" in _buttons(replies) and "/flow_no" in _buttons(replies)
    answers = {r["id"]: "yes" for r in VOR_ROWS}
    text = _text(_answer_vor(chat, answers))
    verdict = decide_vor(VOR_ROWS, answers)
    assert verdict.verdict == READY and "**VOR readiness: ready.**" in text
    assert "Next steps" in text and all(r["next_step"] in text for r in verdict.next_steps)


def test_vor_readiness_nearly_ready_and_not_the_route_with_reasons_and_corrections(new_chat):
    chat = new_chat()
    chat.send("check my vor readiness")
    preparable = next(r for r in VOR_ROWS if r["kind"] == "preparable" and r["applies"] == "always")
    answers = {r["id"]: "yes" for r in VOR_ROWS} | {preparable["id"]: "no"}
    text = _text(_answer_vor(chat, answers))
    assert "**VOR readiness: nearly ready.**" in text
    assert preparable["requirement"] in text and preparable["next_step"] in text
    assert preparable["source"]["url"] in text

    # "Actually no" after the verdict changes the last answer; the last requirement is blocking, so not the route.
    last = VOR_ROWS[-1]
    assert last["kind"] == "blocking"
    text = _text(chat.send("actually no"))
    assert last["requirement"] in text and "**VOR readiness: not the right route for now.**" in text


def test_vor_readiness_invalid_answers_offer_a_person_and_a_question_is_answered_mid_flow(new_chat):
    chat = new_chat()
    chat.send("check my vor readiness")
    replies = chat.send("explain vendor of record to me")
    assert "Source:" in _text(replies) and "/flow_yes" in _buttons(replies)
    assert "yes or a no" in _text(chat.send("purple elephants"))
    chat.send("blah blah")
    assert "/request_human" in _buttons(chat.send("zzz qqq"))
    assert "I've stopped" in _text(chat.send("stop"))


@pytest.fixture
def knowledge_with_future_events(tmp_path, stack):
    """The real knowledge plus two events starting after now, built into the running stack's store."""
    import datetime as dt
    import shutil

    import yaml

    from bot.knowledge.build import build

    copy = tmp_path / "knowledge"
    shutil.copytree(settings.path("KNOWLEDGE_DIR"), copy)
    path = copy / "tables" / "events.yml"
    data = yaml.safe_load(path.read_text())
    template = data["events"][0]
    now = clock.now().replace(microsecond=0)
    added = []
    for n, (fmt, topics) in enumerate((("online", ["health"]), ("in_person", ["construction"])), start=1):
        starts = now + dt.timedelta(days=10 * n)
        row = {**template, "id": f"e2e-future-{n}", "title": f"E2E future event {n}", "format": fmt,
               "topics": topics, "starts": starts.isoformat(), "ends": (starts + dt.timedelta(hours=1)).isoformat(),
               "registration_url": f"https://example.org/register/{n}", "last_reviewed": str(clock.today())}
        data["events"].append(row)
        added.append(row)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    build(copy, stack.data_dir / "knowledge.db")
    yield added
    build(settings.path("KNOWLEDGE_DIR"), stack.data_dir / "knowledge.db")


def test_events_lists_only_upcoming_events_with_filters_and_registration_links(new_chat, knowledge_with_future_events):
    online, in_person = knowledge_with_future_events
    chat = new_chat()
    replies = chat.send("are there any upcoming events")
    assert '/flow_inform{"event_format": "online"}' in _buttons(replies)
    text = _text(chat.send("either is fine"))
    assert "2 found" in text
    assert online["title"] in text and in_person["title"] in text
    assert online["registration_url"] in text and in_person["registration_url"] in text
    assert text.index(online["title"]) < text.index(in_person["title"])  # soonest first
    for past in TABLES["events"]:  # every event in the real table has already started
        assert past["title"] not in text
    replies = chat.send("actually in person only")  # a correction after the list filters it again
    assert in_person["title"] in _text(replies) and online["title"] not in _text(replies)
    assert "/topic_market_sounding_how_to_respond" in _buttons(replies)
    text = _text(chat.send("actually, online ones"))
    assert online["title"] in text and in_person["title"] not in text


def test_events_one_message_with_a_topic_and_no_match_says_so(new_chat, knowledge_with_future_events):
    online, in_person = knowledge_with_future_events
    chat = new_chat()
    text = _text(chat.send("any in person supplier events about construction"))
    assert in_person["title"] in text and online["title"] not in text and "1 found" in text
    chat2 = new_chat()
    text = _text(chat2.send("any online events about construction"))
    assert "no upcoming events that match" in text and in_person["title"] not in text
