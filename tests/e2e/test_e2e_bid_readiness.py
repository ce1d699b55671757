"""Bid readiness over REST: started from "explain this notice", the checklist dates counted back from the
notice's closing date, and the calendar file offered in the answer and downloadable from the web server."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from bot import clock, settings
from bot.knowledge.loader import load_knowledge
from bot.opportunities.search import get_notice
from bot.procurement import bid_readiness as bid

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHECKLIST = bid.checklist(load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables["checklists"])
NOTICE = ("canadabuys", "cb-900-00000001")
ICS_LINK = re.compile(r"\((/calendar/bid-readiness\.ics\?[^)\s]+)\)")


def _text(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def _payloads(replies: list[dict]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def _events(ics: str) -> list[dict[str, str]]:
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    lines: list[str] = []
    for line in ics.split("\r\n")[:-1]:
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    events, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            key, _, value = line.partition(":")
            current[key] = value
    return events


def test_bid_readiness_from_a_notice_gives_dated_checklist_and_calendar(new_chat, stack, stack_data_dir):
    opp = get_notice(*NOTICE, db_path=stack_data_dir / "opportunities.db")
    assert opp is not None and opp.closing is not None
    closing_day = opp.closing.astimezone(clock.EASTERN).date()
    today = clock.today()
    chat = new_chat()

    replies = chat.send('/explain_notice{"notice_ref":"%s:%s"}' % NOTICE)
    assert "/start_bid_readiness" in _payloads(replies)

    replies = chat.send("/start_bid_readiness")
    text = _text(replies)
    assert opp.title_en in text and closing_day.strftime("%B %-d, %Y") in text  # closing taken from the notice
    assert "deadline for sending questions" in text and "/flow_skip" in _payloads(replies)

    replies = chat.send("explain vendor of record to me")  # answered, then the flow resumes
    text = _text(replies)
    assert "Source:" in text and text.rstrip().endswith(
        "It's usually in the solicitation, for example \"March 2\".")

    replies = chat.send(f"{(closing_day + dt.timedelta(days=3)).isoformat()}")  # after closing: refused
    assert "is after the closing date" in _text(replies)

    question_day = max(today, closing_day - dt.timedelta(days=2))
    replies = chat.send(question_day.isoformat())
    assert "mandatory requirement" in _text(replies) and "/flow_yes" in _payloads(replies)

    replies = chat.send("purple elephants")  # nonsense: a specific re-prompt
    assert "I need a yes or a no" in _text(replies)

    for answer, next_question in (("yes", "security clearance"), ("/flow_skip", "insurance"),
                                  ("no", "partners or subcontractors")):
        replies = chat.send(answer)
        assert next_question in _text(replies), answer
    replies = chat.send("/flow_skip")
    text = _text(replies)
    assert "worth bidding, if you close these gaps" in text and "**Insurance**" in text
    for step in CHECKLIST["steps"]:
        due = closing_day - dt.timedelta(days=step["days_before_close"])
        line = next(l for l in text.splitlines() if step["title"] in l)
        assert due.strftime("%A %B %-d, %Y") in line, step["id"]
        assert ("this date has passed" in line) == (due < today), step["id"]
    assert CHECKLIST["source"]["url"] in text
    assert question_day.strftime("%A %B %-d, %Y") in text

    link = ICS_LINK.search(text)
    assert link, "the calendar file is offered"
    response = requests.get(stack.web_url + link.group(1), timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/calendar")
    events = _events(response.content.decode("utf-8"))
    assert len(events) == 2
    questions, closes = events
    assert closes["DTSTART"] == opp.closing.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    assert questions["DTSTART;VALUE=DATE"] == question_day.strftime("%Y%m%d")
    for event in events:
        assert event["UID"] and re.fullmatch(r"\d{8}T\d{6}Z", event["DTSTAMP"]) and event["SUMMARY"]
    assert "/restart_flow" in _payloads(replies)


def test_bid_readiness_described_refuses_a_past_closing_and_takes_a_correction(new_chat):
    today = clock.today()
    chat = new_chat()
    replies = chat.send("help me decide whether to bid")
    assert "When does the opportunity close?" in _text(replies)

    replies = chat.send((today - dt.timedelta(days=3)).isoformat())
    assert "has already passed" in _text(replies)

    closing = today + dt.timedelta(days=30)
    replies = chat.send(f"{closing.isoformat()} at 2 pm")
    assert "deadline for sending questions" in _text(replies)
    replies = chat.send("/flow_skip")
    assert "mandatory requirement" in _text(replies)

    corrected = today + dt.timedelta(days=40)
    replies = chat.send(f"actually it closes {corrected.isoformat()}")
    text = _text(replies)
    assert "the closing date is now" in text and corrected.strftime("%B %-d, %Y") in text
    assert "mandatory requirement" in text

    for answer in ("no", "/flow_skip", "yes", "/flow_skip"):
        replies = chat.send(answer)
    text = _text(replies)
    assert "probably no-bid" in text
    first = CHECKLIST["steps"][0]
    assert (corrected - dt.timedelta(days=first["days_before_close"])).strftime("%A %B %-d, %Y") in text
    assert ICS_LINK.search(text)
