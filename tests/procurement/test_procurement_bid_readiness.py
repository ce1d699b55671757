"""Bid readiness: the bid/no-bid decision, dates counted back from closing, and the calendar file."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest

from bot import settings
from bot.knowledge.loader import load_knowledge
from bot.procurement import bid_readiness as bid

EASTERN = ZoneInfo("America/Toronto")
CHECKLIST = bid.checklist(load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables["checklists"])
STEPS = CHECKLIST["steps"]
TODAY = dt.date(2027, 3, 1)
STAMP = dt.datetime(2027, 3, 1, 15, 30, tzinfo=dt.timezone.utc)


def parse_ics(text: str) -> list[dict[str, str]]:
    """A small RFC 5545 reader: checks CRLF endings and line length, unfolds, returns the components' properties."""
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    raw = text.split("\r\n")[:-1]
    assert all(len(line.encode("utf-8")) <= 75 for line in raw)
    lines: list[str] = []
    for line in raw:
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    components, current = [], None
    for line in lines[1:-1]:
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            components.append(current)
            current = None
        elif current is not None:
            current[name] = value
    return components


def test_the_checklist_comes_from_the_knowledge_table():
    assert CHECKLIST is not None and STEPS
    assert all(isinstance(s["days_before_close"], int) for s in STEPS)


def test_dates_are_counted_back_from_closing():
    closing = dt.date(2027, 3, 31)
    planned = bid.schedule(STEPS, closing, TODAY)
    assert [p.step["id"] for p in planned] == [s["id"] for s in STEPS]
    for p in planned:
        assert p.due == closing - dt.timedelta(days=p.step["days_before_close"])
        assert not p.passed
    assert planned[0].due == dt.date(2027, 3, 31) - dt.timedelta(days=STEPS[0]["days_before_close"])


def test_a_step_whose_date_has_passed_is_flagged_and_one_due_today_too():
    longest = max(s["days_before_close"] for s in STEPS)
    closing = TODAY + dt.timedelta(days=longest - 1)
    planned = bid.schedule(STEPS, closing, TODAY)
    passed = [p for p in planned if p.passed]
    assert passed and all(p.step["days_before_close"] == longest for p in passed)
    due_today = [p for p in bid.schedule(STEPS, TODAY + dt.timedelta(days=longest), TODAY) if p.today]
    assert due_today and not any(p.passed for p in due_today)


@pytest.mark.parametrize("days, problem", [(0, None), (1, None), (-1, "past")])
def test_closing_today_tomorrow_and_past(days, problem):
    closing = TODAY + dt.timedelta(days=days)
    assert bid.closing_problem(closing, TODAY) == problem


def test_closing_today_means_every_step_has_passed_or_is_today():
    planned = bid.schedule(STEPS, TODAY, TODAY)
    assert all(p.passed for p in planned)  # every step is at least one day before closing
    tomorrow = bid.schedule(STEPS, TODAY + dt.timedelta(days=1), TODAY)
    assert {p.today for p in tomorrow if p.step["days_before_close"] == 1} == {True}


def test_question_deadline_must_not_be_after_closing():
    closing = dt.date(2027, 3, 31)
    assert bid.question_deadline_problem(dt.date(2027, 3, 20), closing) is None
    assert bid.question_deadline_problem(closing, closing) is None
    assert bid.question_deadline_problem(dt.date(2027, 4, 1), closing) == "after_closing"


def test_not_needed_is_an_answer_only_where_the_question_offers_it():
    assert {q: bid.allowed_answers(q) for q in bid.QUESTIONS} == {
        "mandatory": ("yes", "no"), "security": ("yes", "no", "not_needed"), "insurance": ("yes", "no"),
        "partners": ("yes", "no", "not_needed")}


def test_bid_no_bid_decision():
    ok = {"mandatory": "yes", "security": "not_needed", "insurance": "yes", "partners": "not_needed"}
    assert bid.decide_bid(ok) == bid.BidDecision(bid.BID, ())
    gaps = {**ok, "security": "no", "partners": "no"}
    assert bid.decide_bid(gaps) == bid.BidDecision(bid.BID_WITH_GAPS, ("security", "partners"))
    assert bid.decide_bid({**gaps, "mandatory": "no"}).verdict == bid.NO_BID
    with pytest.raises(ValueError):
        bid.decide_bid({**ok, "insurance": "not_needed"})
    with pytest.raises(ValueError):
        bid.decide_bid({**ok, "mandatory": None})


@pytest.mark.parametrize("text, expected", [
    ("March 12 at 2 pm", dt.time(14, 0)), ("2027-03-12 14:00", dt.time(14, 0)), ("11:30 a.m.", dt.time(11, 30)),
    ("noon on march 3", dt.time(12, 0)), ("12 am", dt.time(0, 0)), ("March 12", None), ("2027-03-12", None),
])
def test_parse_time(text, expected):
    assert bid.parse_time(text) == expected


def test_closing_values_round_trip():
    assert bid.closing_value(dt.date(2027, 3, 12), None, EASTERN) == "2027-03-12"
    value = bid.closing_value(dt.date(2027, 3, 12), dt.time(14), EASTERN)
    moment = bid.parse_moment(value)
    assert moment == dt.datetime(2027, 3, 12, 14, tzinfo=EASTERN)
    assert bid.day_of(moment, EASTERN) == dt.date(2027, 3, 12)
    assert bid.parse_moment("nonsense") is None and bid.parse_moment("2027-03-12T14:00") is None


def test_mentions_closing_and_not_needed():
    assert bid.mentions_closing("actually it closes March 12")
    assert not bid.mentions_closing("March 2")
    assert bid.says_not_needed("not needed for this one") and not bid.says_not_needed("yes")


def test_calendar_file_is_valid_rfc5545_and_parses_back():
    closing = dt.datetime(2027, 3, 12, 14, tzinfo=EASTERN)
    title = "Bid closes: Supply, delivery; and installation, of very long-named equipment " * 2 + "— Ontario été"
    query = bid.ics_query(closing=closing.isoformat(), closing_summary=title, question_deadline="2027-03-02",
                          question_summary="Question deadline: X", stamp=STAMP, reference="REF-1")
    text = bid.ics_from_query(dict(parse_qsl(query)))
    assert "VERSION:2.0" in text and "PRODID:" in text
    events = parse_ics(text)
    assert len(events) == 2
    questions, closes = events
    for event in events:
        assert event["UID"] and event["DTSTAMP"] == "20270301T153000Z"
    assert closes["DTSTART"] == "20270312T190000Z"  # 2 pm in Toronto (EST) is 19:00 UTC
    assert questions["DTSTART;VALUE=DATE"] == "20270302"
    assert questions["DTEND;VALUE=DATE"] == "20270303"
    unescaped = closes["SUMMARY"].replace("\\,", ",").replace("\\;", ";")
    assert unescaped == title
    assert questions["UID"] != closes["UID"]
    # The same link gives the same UIDs (re-importing updates the events).
    assert parse_ics(bid.ics_from_query(dict(parse_qsl(query))))[1]["UID"] == closes["UID"]


def test_calendar_without_question_deadline_or_time():
    query = bid.ics_query(closing="2027-03-12", closing_summary="Bid closes", question_deadline=None,
                          question_summary="unused", stamp=STAMP)
    events = parse_ics(bid.ics_from_query(dict(parse_qsl(query))))
    assert len(events) == 1 and events[0]["DTSTART;VALUE=DATE"] == "20270312"


@pytest.mark.parametrize("params", [{}, {"close": "tomorrow", "stamp": "20270301T153000Z"},
                                    {"close": "2027-03-12", "stamp": "yesterday"},
                                    {"close": "2027-03-12", "stamp": "20270301T153000Z", "questions": "soon"}])
def test_bad_calendar_links_give_nothing(params):
    assert bid.ics_from_query(params) is None
