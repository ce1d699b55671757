"""Turns the extractor's date values into real dates, given today's date (never read from the clock here)."""
from __future__ import annotations

import datetime as dt
import re

_NEXT_DAYS = re.compile(r"^next_(\d+)_days$")


def resolve_date(value: str, today: dt.date) -> dt.date | None:
    """ "2027-03-01" as is; "--03-01" as the next 1 March on or after today; anything else None."""
    try:
        if value.startswith("--"):
            month, day = int(value[2:4]), int(value[5:7])
            candidate = dt.date(today.year, month, day)
            return candidate if candidate >= today else dt.date(today.year + 1, month, day)
        return dt.date.fromisoformat(value)
    except (ValueError, TypeError, AttributeError):
        return None


def resolve_window(value: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """A closing window as (first day, last day), both inclusive; None when the value is not a window."""
    if value == "today":
        return today, today
    if value == "tomorrow":
        return today + dt.timedelta(days=1), today + dt.timedelta(days=1)
    if value == "this_week":
        return today, today + dt.timedelta(days=6 - today.weekday())
    if value == "next_week":
        start = today + dt.timedelta(days=7 - today.weekday())
        return start, start + dt.timedelta(days=6)
    if value in {"this_month", "next_month"}:
        first = today.replace(day=1)
        if value == "next_month":
            first = (first + dt.timedelta(days=32)).replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return max(first, today), last
    match = _NEXT_DAYS.match(value or "")
    if match:
        return today, today + dt.timedelta(days=int(match.group(1)))
    return None
