"""Review status boundaries with a pinned date: current → due soon (30 days before) → overdue (day after due)."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.knowledge.freshness import freshness, review_due

REVIEWED = dt.date(2026, 1, 1)
EVERY = 100
DUE = dt.date(2026, 4, 11)  # 2026-01-01 + 100 days


def test_due_date() -> None:
    assert review_due(REVIEWED, EVERY) == DUE
    assert review_due("2026-01-01", EVERY) == DUE


@pytest.mark.parametrize(("today", "expected"), [
    (REVIEWED, "current"),
    (DUE - dt.timedelta(days=31), "current"),
    (DUE - dt.timedelta(days=30), "due_soon"),
    (DUE - dt.timedelta(days=1), "due_soon"),
    (DUE, "due_soon"),  # still within the interval on the due date itself
    (DUE + dt.timedelta(days=1), "overdue"),
    (DUE + dt.timedelta(days=400), "overdue"),
])
def test_boundaries(today: dt.date, expected: str) -> None:
    assert freshness(REVIEWED, EVERY, today) == expected


def test_due_soon_window_is_a_parameter() -> None:
    assert freshness(REVIEWED, EVERY, DUE - dt.timedelta(days=5), due_soon_days=0) == "current"
    assert freshness(REVIEWED, EVERY, DUE, due_soon_days=0) == "due_soon"
    assert freshness(REVIEWED, EVERY, DUE - dt.timedelta(days=60), due_soon_days=60) == "due_soon"


def test_accepts_iso_strings_and_datetimes() -> None:
    now = dt.datetime(2026, 4, 12, 0, 30, tzinfo=dt.timezone.utc)
    assert freshness("2026-01-01", EVERY, now) == "overdue"
    assert freshness(dt.datetime(2026, 1, 1, 23, 0), EVERY, DUE) == "due_soon"
