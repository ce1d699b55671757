"""Upcoming market-sounding and supplier events from `knowledge/tables/events.yml`, filtered for a founder.

`now` is passed in: an event that has started before `now` is history and is never offered as upcoming.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping, Sequence

Row = Mapping[str, Any]

FORMATS = ("online", "in_person", "hybrid")
# Words a founder uses for each format choice; "any" means no format filter.
_FORMAT_WORDS = (
    ("in_person", re.compile(r"\b(in[- ]person|on[- ]site|face[- ]to[- ]face|physical)\b", re.IGNORECASE)),
    ("online", re.compile(r"\b(online|virtual|virtually|webinar|remote)\b", re.IGNORECASE)),
    ("any", re.compile(r"\b(any|either|both|all|whatever|doesn't matter|don't mind)\b", re.IGNORECASE)),
)
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


def parse_format(text: str, allow_any: bool = True) -> str | None:
    """'online', 'in_person' or 'any' from the founder's words, or None when the text names no format.

    `allow_any=False` for an opening request, where "are there any events" does not answer "online or not?".
    """
    for value, pattern in _FORMAT_WORDS:
        if pattern.search(text or "") and (allow_any or value != "any"):
            return value
    return None


def topic_words(text: str, events: Sequence[Row]) -> set[str]:
    """The words of `text` that are topics of some event in the table (so "about health" filters by health)."""
    known = {t.casefold() for e in events for t in e.get("topics") or []}
    return {w.casefold() for w in _WORD.findall(text or "")} & known


def _format_matches(event: Row, wanted: str | None) -> bool:
    if wanted in (None, "any"):
        return True
    # A hybrid event can be attended either way.
    return event["format"] in (wanted, "hybrid")


def upcoming_events(events: Sequence[Row], now: dt.datetime, *, event_format: str | None = None,
                    topics: set[str] | None = None, first_day: dt.date | None = None,
                    last_day: dt.date | None = None) -> list[Row]:
    """Events starting at or after `now`, matching the format, any of `topics`, and the day range; soonest first.

    Days are compared in each event's own time zone (the date printed on its listing).
    """
    chosen = []
    for event in events:
        if event["starts"] < now:
            continue
        day = event["starts"].date()
        if first_day and day < first_day or last_day and day > last_day:
            continue
        if not _format_matches(event, event_format):
            continue
        if topics and not topics & {t.casefold() for t in event.get("topics") or []}:
            continue
        chosen.append(event)
    return sorted(chosen, key=lambda e: e["starts"])
