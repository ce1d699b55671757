"""Resolving extracted dates and windows against a pinned 'today'."""
import datetime as dt

import pytest

from bot.nlu.dates import resolve_date, resolve_window

TODAY = dt.date(2026, 11, 26)  # a Thursday


def test_a_date_without_year_is_the_next_one():
    assert resolve_date("--03-01", TODAY) == dt.date(2027, 3, 1)
    assert resolve_date("--12-01", TODAY) == dt.date(2026, 12, 1)
    assert resolve_date("--11-26", TODAY) == TODAY


def test_full_and_invalid_dates():
    assert resolve_date("2027-01-15", TODAY) == dt.date(2027, 1, 15)
    assert resolve_date("--02-30", TODAY) is None
    assert resolve_date("soon", TODAY) is None


@pytest.mark.parametrize("window, start, end", [
    ("today", TODAY, TODAY),
    ("tomorrow", dt.date(2026, 11, 27), dt.date(2026, 11, 27)),
    ("this_week", TODAY, dt.date(2026, 11, 29)),
    ("next_week", dt.date(2026, 11, 30), dt.date(2026, 12, 6)),
    ("this_month", TODAY, dt.date(2026, 11, 30)),
    ("next_month", dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
    ("next_10_days", TODAY, dt.date(2026, 12, 6)),
])
def test_windows(window, start, end):
    assert resolve_window(window, TODAY) == (start, end)


def test_unknown_window():
    assert resolve_window("someday", TODAY) is None
