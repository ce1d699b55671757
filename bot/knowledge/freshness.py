"""Whether an entry's review is current, due soon or overdue, for answers and the staff status page."""
from __future__ import annotations

import datetime as dt
from typing import Literal

Freshness = Literal["current", "due_soon", "overdue"]
DUE_SOON_DAYS = 30


def review_due(last_reviewed: dt.date | str, review_every_days: int) -> dt.date:
    """The date by which the entry must be reviewed again."""
    return _as_date(last_reviewed) + dt.timedelta(days=int(review_every_days))


def freshness(
    last_reviewed: dt.date | str,
    review_every_days: int,
    today: dt.date,
    due_soon_days: int = DUE_SOON_DAYS,
) -> Freshness:
    """"overdue" after the due date, "due_soon" within `due_soon_days` before it (inclusive), else "current".

    On the due date itself the entry is still "due_soon": it becomes overdue the day after, which matches the
    staff guide's "after this many days the answer warns".
    """
    due = review_due(last_reviewed, review_every_days)
    today = _as_date(today)
    if today > due:
        return "overdue"
    if (due - today).days <= due_soon_days:
        return "due_soon"
    return "current"


def _as_date(value: dt.date | str) -> dt.date:
    # datetime is a subclass of date; comparing one with a date raises, so reduce it to its date.
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
