"""Upcoming events: past events never offered, and each filter (format, topic, days) at its edges."""
from __future__ import annotations

import datetime as dt

import pytest

from bot import settings
from bot.knowledge.loader import load_knowledge
from bot.procurement.events import parse_format, topic_words, upcoming_events

EVENTS = load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables["events"]
EASTERN = dt.timezone(dt.timedelta(hours=-5))


def _event(event_id, starts, fmt="online", topics=("it",)):
    return {**EVENTS[0], "id": event_id, "starts": starts, "ends": starts + dt.timedelta(hours=1), "format": fmt,
            "topics": list(topics)}


NOW = dt.datetime(2027, 1, 10, 12, 0, tzinfo=EASTERN)
SOON = _event("soon", NOW + dt.timedelta(days=2), "online", ("it", "health"))
LATER = _event("later", NOW + dt.timedelta(days=20), "in_person", ("construction",))
HYBRID = _event("hybrid", NOW + dt.timedelta(days=5), "hybrid", ("health",))
PAST = _event("past", NOW - dt.timedelta(minutes=1))
ALL = [LATER, PAST, HYBRID, SOON]


def _ids(rows):
    return [r["id"] for r in rows]


def test_every_event_in_the_table_is_offered_only_before_it_starts():
    for event in EVENTS:
        before = event["starts"] - dt.timedelta(seconds=1)
        assert event["id"] in _ids(upcoming_events(EVENTS, before))
        assert event["id"] in _ids(upcoming_events(EVENTS, event["starts"]))
        assert event["id"] not in _ids(upcoming_events(EVENTS, event["starts"] + dt.timedelta(seconds=1)))


def test_upcoming_sorted_soonest_first_without_past_events():
    assert _ids(upcoming_events(ALL, NOW)) == ["soon", "hybrid", "later"]


@pytest.mark.parametrize("wanted, expected", [
    ("online", ["soon", "hybrid"]), ("in_person", ["hybrid", "later"]), ("any", ["soon", "hybrid", "later"]),
    (None, ["soon", "hybrid", "later"]),
])
def test_format_filter_hybrid_counts_for_both(wanted, expected):
    assert _ids(upcoming_events(ALL, NOW, event_format=wanted)) == expected


def test_topic_filter_and_topic_words():
    assert topic_words("any events about Health or IT?", ALL) == {"health", "it"}
    assert topic_words("anything next week", ALL) == set()
    assert _ids(upcoming_events(ALL, NOW, topics={"health"})) == ["soon", "hybrid"]
    assert _ids(upcoming_events(ALL, NOW, topics=set())) == ["soon", "hybrid", "later"]


def test_day_range_is_inclusive_at_both_ends():
    day = HYBRID["starts"].date()
    assert "hybrid" in _ids(upcoming_events(ALL, NOW, first_day=day, last_day=day))
    assert "hybrid" not in _ids(upcoming_events(ALL, NOW, first_day=day + dt.timedelta(days=1)))
    assert "hybrid" not in _ids(upcoming_events(ALL, NOW, last_day=day - dt.timedelta(days=1)))


@pytest.mark.parametrize("text, expected", [
    ("online please", "online"), ("a webinar", "online"), ("in person", "in_person"), ("in-person only", "in_person"),
    ("either is fine", "any"), ("doesn't matter", "any"), ("banana", None), ("", None),
])
def test_parse_format(text, expected):
    assert parse_format(text) == expected


def test_parse_format_in_an_opening_request_ignores_any():
    assert parse_format("are there any upcoming events", allow_any=False) is None
    assert parse_format("any online events", allow_any=False) == "online"
    assert parse_format("are there any upcoming events") == "any"
