"""The concierge request over the REST channel, and where the founder's details end up (and do not)."""
from __future__ import annotations

import sqlite3

import pytest

from bot.services import logs_dir
from bot.staff import queue
from chat_client import fetch_tracker

pytestmark = pytest.mark.e2e

# Unusual strings, so finding any of them anywhere means a leak, not a coincidence.
NAME = "Ottoline Quimbly"
EMAIL = "ottoline.quimbly@example.org"
COMPANY = "Zephyrine Fabrication Ltd"
DESCRIPTION = "We build xylocarp ramps and want to bid on municipal accessibility work"
SECRETS = ("Quimbly", "quimbly", "Zephyrine", "xylocarp")


def _text(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def _buttons(replies: list[dict]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def _rows_for(stack, sender: str) -> list[dict]:
    path = stack.data_dir / queue.SQLITE_FILE
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM concierge_requests WHERE sender_id = ?", (sender,))]


def test_concierge_request_end_to_end_keeps_details_only_in_the_queue(stack, new_chat, domain):
    chat = new_chat()
    chat.send("what is a vendor of record arrangement")
    replies = chat.send("i want to talk to a person")
    assert len([r for r in replies if r.get("text")]) == 1, replies  # only the consent question, no re-prompts
    consent = _text(replies)
    assert "doesn't look like" not in consent and "Vendor of Record" in consent and "90 days" in consent and "Do you agree?" in consent
    assert _buttons(replies)[-2:] == ["/flow_yes", "/flow_no"]

    assert "What's your name?" in _text(chat.send("/flow_yes"))
    assert "What email address" in _text(chat.send(NAME))
    invalid = _text(chat.send("ottoline at example dot org"))
    assert "doesn't look like an email address" in invalid
    assert "What email address" in invalid  # asked again
    assert "name of your company" in _text(chat.send(EMAIL))
    assert "what would you like help with" in _text(chat.send(COMPANY))
    replies = chat.send(DESCRIPTION)
    confirmation = _text(replies)
    assert "your request is in our team's queue" in confirmation
    reference = confirmation.split("**")[1]

    [row] = _rows_for(stack, chat.sender)
    assert row["reference"] == reference and row["status"] == "new"
    assert (row["name"], row["email"], row["company"], row["description"]) == (NAME, EMAIL, COMPANY, DESCRIPTION)
    assert "Vendor of Record" in row["topic"]
    assert row["consent_at"] <= row["created_at"]

    # The tracker store: neither the answers nor the slot values, in any column of the raw events table.
    with sqlite3.connect(stack.data_dir / "tracker.db") as db:
        raw = "\n".join(" ".join(str(v) for v in r) for r in db.execute(
            "SELECT * FROM events WHERE sender_id = ?", (chat.sender,)))
    assert raw and "i want to talk to a person" in raw  # the conversation itself is kept
    for secret in SECRETS:
        assert secret not in raw, secret
    events = fetch_tracker(stack, chat.sender)["events"]
    user_texts = [e["text"] for e in events if e["event"] == "user"]
    assert user_texts.count("[redacted]") == 5  # name, the invalid email, email, company, description
    assert all(e.get("value") in (None, "[redacted]") for e in events
               if e["event"] == "slot" and e["name"].startswith("concierge_") and e["name"] != "concierge_consent"
               and e["name"] != "concierge_topic")

    # Nor the logs of the three services at their default level.
    logs = sorted(logs_dir(stack.data_dir).glob("*.log"))
    assert {"rasa.log", "actions.log"} <= {log.name for log in logs}
    for log in logs:
        content = log.read_text(errors="replace")
        for secret in SECRETS:
            assert secret not in content, f"{secret} in {log.name}"


def test_declining_consent_gives_the_contact_route_and_stores_nothing_personal(stack, new_chat):
    chat = new_chat()
    chat.send("can i speak to a human")
    replies = chat.send("no")
    text = _text(replies)
    assert "won't keep any personal details" in text
    assert _rows_for(stack, chat.sender) == []
    # The next message is an ordinary question again, not an answer to the form.
    assert "Source: [" in _text(chat.send("what is a vendor of record arrangement"))
    assert _rows_for(stack, chat.sender) == []


def test_a_topic_question_mid_form_is_answered_then_cancel_deletes_the_draft(stack, new_chat):
    chat = new_chat()
    chat.send("talk to a person please")
    assert "What's your name?" in _text(chat.send("yes"))
    replies = chat.send("what is a vendor of record arrangement?")
    text = _text(replies)
    assert "Source: [" in text  # answered from the knowledge base ...
    assert "What's your name?" in text  # ... and the form asks its question again
    assert "What email address" in _text(chat.send(NAME))
    assert [r["name"] for r in _rows_for(stack, chat.sender)] == [NAME]  # the draft
    replies = chat.send("cancel")
    assert "deleted what you had typed" in _text(replies)
    assert _rows_for(stack, chat.sender) == []
    assert "Source: [" in _text(chat.send("what is a vendor of record arrangement"))
