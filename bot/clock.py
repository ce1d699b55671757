"""The one place that reads the wall clock. Decision code takes `today`/`now` as a parameter instead."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/Toronto")


def now() -> dt.datetime:
    """The current time in Ontario (Eastern time), timezone-aware."""
    return dt.datetime.now(EASTERN)


def today() -> dt.date:
    return now().date()
