"""Actions called directly with a fresh tracker and dispatcher."""
from __future__ import annotations

import datetime as dt

import pytest

from actions.handoff import ActionRequestHuman
from actions.topics import ActionAnswerTopic, ActionFallbackSuggestions
from bot.handoff import list_handoffs
from bot.knowledge import store as knowledge_store
from bot.knowledge.build import build
from bot import settings


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    knowledge_store.get_store.cache_clear()
    yield tmp_path
    knowledge_store.get_store.cache_clear()


@pytest.fixture
def built(data_dir):
    build(settings.path("KNOWLEDGE_DIR"), data_dir / "knowledge.db")
    return data_dir


def test_handoff_records_topic_and_time_then_hands_the_topic_to_the_concierge_form(
        data_dir, tracker_factory, dispatcher, domain):
    events = ActionRequestHuman().run(dispatcher, tracker_factory(slots={"last_topic": "Invoicing"}), domain)
    [row] = list_handoffs(data_dir / "handoffs.db")
    assert row["topic"] == "Invoicing"
    assert dt.datetime.fromisoformat(row["requested_at"]).tzinfo is not None
    assert dispatcher.messages == []  # the concierge form asks for consent next (data/rules/handoff.yml)
    slots = {e["name"]: e["value"] for e in events}
    assert slots["concierge_topic"] == "Invoicing"
    assert slots["handoff_reference"] == f"H{row['id']:05d}"


def test_handoff_during_another_flow_is_noted_and_the_flow_carries_on(data_dir, tracker_factory, dispatcher, domain):
    tracker = tracker_factory(slots={"last_topic": "Invoicing"}, active_loop={"name": "registration"})
    assert ActionRequestHuman().run(dispatcher, tracker, domain) == []
    [row] = list_handoffs(data_dir / "handoffs.db")
    assert dispatcher.messages[0]["response"] == "utter_handoff_recorded"
    assert dispatcher.messages[0]["reference"] == f"H{row['id']:05d}"


def test_handoff_that_cannot_be_stored_says_so(data_dir, tracker_factory, dispatcher, domain, monkeypatch):
    (data_dir / "handoffs.db").mkdir()  # a directory where the database file should be
    ActionRequestHuman().run(dispatcher, tracker_factory(), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_failed"]


def test_answer_topic_sets_last_topic_and_cites(built, tracker_factory, dispatcher, domain):
    tracker = tracker_factory(latest_message={"intent": {"name": "topic_vor_what_is", "confidence": 0.9}})
    events = ActionAnswerTopic().run(dispatcher, tracker, domain)
    answer = dispatcher.messages[-1]
    assert answer["response"] in {"utter_topic_answer", "utter_topic_answer_short"}
    assert answer["source_url"].startswith("https://")
    assert events[0]["name"] == "last_topic" and events[0]["value"] == answer["title"]


def test_answer_topic_without_a_store_apologises(data_dir, tracker_factory, dispatcher, domain):
    tracker = tracker_factory(latest_message={"intent": {"name": "topic_vor_what_is", "confidence": 0.9}})
    assert ActionAnswerTopic().run(dispatcher, tracker, domain) == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_service_unavailable"]


def test_fallback_offers_close_topics_and_a_person(built, tracker_factory, dispatcher, domain):
    tracker = tracker_factory(latest_message={
        "text": "vendor of record thingy", "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4},
                           {"name": "topic_vor_types", "confidence": 0.3}]})
    ActionFallbackSuggestions().run(dispatcher, tracker, domain)
    [message] = dispatcher.messages
    payloads = [b["payload"] for b in message["buttons"]]
    assert message["response"] == "utter_fallback_suggestions"
    assert payloads[0] == "/topic_vor_types"
    assert 2 <= len(payloads) <= 4 and payloads[-1] == "/request_human"
