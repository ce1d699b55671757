"""The whole assistant over REST: real action server, real Rasa server, trained model."""
from __future__ import annotations

import sqlite3

import pytest
import requests

from chat_client import fetch_tracker

pytestmark = pytest.mark.e2e


def test_hi_gets_a_greeting(chat):
    replies = chat.send("hi")
    assert replies and "I'm Supplier Navigator" in replies[0]["text"]


def test_what_can_you_do_offers_the_capabilities_as_buttons(chat, domain):
    replies = chat.send("what can you do?")
    buttons = [b["title"] for r in replies for b in r.get("buttons", [])]
    expected = [b["title"] for b in domain["responses"]["utter_capabilities"][0]["buttons"]]
    assert buttons == expected
    assert "Talk to a person" in buttons


@pytest.mark.parametrize("message, response", [
    ("are you a bot?", "utter_iamabot"),
    ("what's the weather like today", "utter_out_of_scope"),
    ("how do i register on bc bid", "utter_other_jurisdiction"),
    ("thanks!", "utter_you_are_welcome"),
    ("bye", "utter_goodbye"),
])
def test_chit_chat(new_chat, domain, message, response):
    texts = new_chat().texts(message)
    assert texts[0] == domain["responses"][response][0]["text"]


def test_a_topic_question_is_answered_from_the_knowledge_store_with_its_source(chat):
    replies = chat.send("what is a vendor of record arrangement")
    answer = replies[-1]["text"]
    assert "Source: [" in answer and "last reviewed 20" in answer
    assert answer.startswith("**")
    assert replies[-1].get("buttons"), "related topics are offered as buttons"


def test_a_topic_button_payload_answers_that_topic(chat):
    replies = chat.send("/topic_vor_what_is")
    assert "Vendor of Record" in replies[-1]["text"]


def test_gibberish_gets_a_helpful_answer_never_silence(new_chat, domain):
    replies = new_chat().send("qwzx blorp fnarg")
    assert replies, "never silence"
    text = replies[0]["text"]
    helpful = {domain["responses"][name][0]["text"]
               for name in ("utter_fallback_suggestions", "utter_default", "utter_out_of_scope")}
    assert text in helpful
    assert any(b["payload"] == "/request_human" for b in replies[0].get("buttons", []))


def test_asking_for_a_person_asks_consent_and_declining_records_only_topic_and_time(stack, chat):
    chat.send("what is a vendor of record arrangement")
    replies = chat.send("can i talk to a real person")
    assert "Do you agree?" in replies[-1]["text"]
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/flow_yes", "/flow_no"]
    assert "request H" in replies[-1]["text"]
    reference = replies[-1]["text"].split("request ")[1].split(")")[0]
    replies = chat.send("/flow_no")
    assert "won't keep any personal details" in replies[0]["text"]
    with sqlite3.connect(stack.data_dir / "handoffs.db") as db:
        row = db.execute("SELECT topic, requested_at, conversation FROM handoff_requests WHERE id = ?",
                         (int(reference[1:]),)).fetchone()
    assert row is not None
    topic, requested_at, conversation = row
    assert "Vendor of Record" in topic
    assert requested_at.startswith("20")
    assert chat.sender not in conversation  # only a hash links it to the conversation


def test_when_the_action_server_is_down_the_founder_gets_a_polite_message(stack, new_chat, domain):
    chat = new_chat()
    stack.stop("actions")
    try:
        replies = chat.send("what is a vendor of record arrangement")
        assert [r["text"] for r in replies] == [domain["responses"]["utter_service_unavailable"][0]["text"]]
    finally:
        stack.start_actions()
    assert "Source: [" in chat.send("what is a vendor of record arrangement")[-1]["text"]


def test_conversations_are_kept_in_the_sqlite_tracker_store(stack, chat):
    chat.send("hi")
    chat.send("are you a bot?")
    events = fetch_tracker(stack, chat.sender)["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["hi", "are you a bot?"]
    with sqlite3.connect(stack.data_dir / "tracker.db") as db:
        stored = db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (chat.sender,)).fetchone()[0]
    assert stored >= 4


def test_the_widget_page_and_its_config_are_served(stack):
    page = requests.get(f"{stack.web_url}/", timeout=10)
    assert page.status_code == 200 and "Supplier Navigator" in page.text
    config = requests.get(f"{stack.web_url}/config.js", timeout=10).text
    assert stack.rasa_url in config


def test_cors_lets_the_widget_page_call_rasa(stack):
    response = requests.options(f"{stack.rasa_url}/webhooks/rest/webhook", timeout=10,
                                headers={"Origin": stack.web_url, "Access-Control-Request-Method": "POST"})
    assert response.headers.get("Access-Control-Allow-Origin") in {"*", stack.web_url}
