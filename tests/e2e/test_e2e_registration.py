"""The registration walkthrough over the REST channel: one full conversation, step texts from the checklists table."""
from __future__ import annotations

import pytest

from bot import settings
from bot.knowledge.loader import load_knowledge
from bot.procurement.registration import checklist_for

pytestmark = pytest.mark.e2e

CHECKLISTS = load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables["checklists"]
STEP_BUTTONS = {"/step_done", "/flow_skip", "/step_why", "/step_back", "/stop"}


def _text(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def _buttons(replies: list[dict]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def _shows_step(replies: list[dict], steps: list[dict], index: int) -> None:
    text = _text(replies)
    step = steps[index]
    assert f"Step {index + 1} of {len(steps)}: {step['title']}" in text, text
    assert step["detail"] in text and step["url"] in text
    assert STEP_BUTTONS <= set(_buttons(replies))


def test_registration_walkthrough_step_by_step_with_why_back_skip_interruption_pause_and_resume(new_chat):
    checklist = checklist_for(CHECKLISTS, "bps")
    steps = checklist["steps"]
    assert len(steps) >= 4
    chat = new_chat()

    replies = chat.send("walk me through registration")
    assert "Where do you want to sell first?" in _text(replies)
    assert '/flow_inform{"buyer_type": "bps"}' in _buttons(replies)

    _shows_step(chat.send('/flow_inform{"buyer_type": "bps"}'), steps, 0)

    replies = chat.send("/step_why")
    assert steps[0]["why"] in _text(replies)
    _shows_step(replies, steps, 0)

    _shows_step(chat.send("done"), steps, 1)

    replies = chat.send("explain vendor of record to me")  # answered, then the walkthrough resumes
    assert "Source:" in _text(replies)
    _shows_step(replies, steps, 1)

    first = _text(chat.send("banana"))
    assert "didn't understand" in first and "talk to a person" not in first
    chat.send("blorp")
    third = chat.send("zzz qqq")
    assert "/request_human" in _buttons(third)

    _shows_step(chat.send("skip"), steps, 2)
    _shows_step(chat.send("go back"), steps, 1)

    paused = chat.send("stop")
    assert "kept your place" in _text(paused) and "/start_registration" in _buttons(paused)

    replies = chat.send("continue my registration")
    assert "Welcome back" in _text(replies) and checklist["title"] in _text(replies)
    _shows_step(replies, steps, 1)

    for index in range(2, len(steps)):
        _shows_step(chat.send("/step_done"), steps, index)
    replies = chat.send("/flow_skip")  # the last step, skipped
    text = _text(replies)
    assert f"**{checklist['title']}: walkthrough finished.** You've done {len(steps) - 1} of {len(steps)} steps" in text
    assert checklist["source"]["url"] in text
    assert f"[{steps[-1]['title']}]({steps[-1]['url']})" in text
    assert "/restart_flow" in _buttons(replies)


def test_registration_target_can_be_given_up_front_and_changed(new_chat):
    federal = checklist_for(CHECKLISTS, "federal")["steps"]
    municipal = checklist_for(CHECKLISTS, "municipal")
    chat = new_chat()
    _shows_step(chat.send("walk me through registering with the federal government"), federal, 0)
    _shows_step(chat.send("done"), federal, 1)
    replies = chat.send("actually it's for a municipality")
    assert f"switching to **{municipal['title']}**" in _text(replies)
    _shows_step(replies, municipal["steps"], 0)
