"""Bid readiness for one opportunity: the bid/no-bid decision, the preparation schedule counted back from the
closing date (steps and day counts from the `bid-preparation` checklist), and a calendar file (.ics).

Nothing here reads the clock: `today` and the calendar's time stamp are passed in.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

Row = Mapping[str, Any]

CHECKLIST_ID = "bid-preparation"
ANSWERS = ("yes", "no", "not_needed")
# The bid/no-bid questions, in the order the form asks them; "not_needed" is allowed where the answer can be.
QUESTIONS = ("mandatory", "security", "insurance", "partners")
NOT_NEEDED_ALLOWED = ("security", "partners")
BID, BID_WITH_GAPS, NO_BID = "bid", "bid_with_gaps", "no_bid"
ICS_PATH = "/calendar/bid-readiness.ics"

_TIME = re.compile(r"\b(\d{1,2})(?:[:h.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?)?(?=\W|$)", re.IGNORECASE)
_CLOCK_WORDS = re.compile(r"\bnoon\b", re.IGNORECASE)
_CLOSING_WORDS = re.compile(r"\b(clos\w*|deadline for bids|due)\b", re.IGNORECASE)
_NOT_NEEDED = re.compile(r"\b(not needed|not required|n/?a|not applicable|doesn't apply|does not apply|no need)\b",
                         re.IGNORECASE)


@dataclass(frozen=True)
class BidDecision:
    """`verdict` is bid, bid_with_gaps or no_bid; `gaps` are the questions answered "no", in form order."""

    verdict: str
    gaps: tuple[str, ...]


@dataclass(frozen=True)
class ScheduledStep:
    step: Row
    due: dt.date
    passed: bool  # the suggested date is before today: do it as soon as possible
    today: bool


def checklist(checklists: Sequence[Row]) -> Row | None:
    return next((c for c in checklists if c["id"] == CHECKLIST_ID), None)


def allowed_answers(question: str) -> tuple[str, ...]:
    """The answers a question takes: yes or no, and "not_needed" where the question offers it."""
    return ANSWERS if question in NOT_NEEDED_ALLOWED else ANSWERS[:2]


def decide_bid(answers: Mapping[str, str | None]) -> BidDecision:
    """No-bid when the mandatory requirements can't be met; otherwise bid, listing every other "no" as a gap."""
    for question in QUESTIONS:
        if answers.get(question) not in allowed_answers(question):
            raise ValueError(f"{question}: {answers.get(question)!r}")
    gaps = tuple(q for q in QUESTIONS if answers[q] == "no")
    if "mandatory" in gaps:
        return BidDecision(NO_BID, gaps)
    return BidDecision(BID_WITH_GAPS if gaps else BID, gaps)


def schedule(steps: Sequence[Row], closing: dt.date, today: dt.date) -> list[ScheduledStep]:
    """Every step with its date counted back from `closing` (its `days_before_close`), in checklist order."""
    planned = []
    for step in steps:
        due = closing - dt.timedelta(days=int(step["days_before_close"]))
        planned.append(ScheduledStep(step, due, due < today, due == today))
    return planned


def closing_problem(closing: dt.date, today: dt.date) -> str | None:
    """'past' when the competition has already closed; closing today is still possible."""
    return "past" if closing < today else None


def question_deadline_problem(deadline: dt.date, closing: dt.date | None) -> str | None:
    """'after_closing' when the question deadline falls after the closing date."""
    return "after_closing" if closing is not None and deadline > closing else None


def parse_time(text: str) -> dt.time | None:
    """A clock time said in the answer ("2 pm", "14:00", "11:30 a.m.", "noon"); None when none is said.

    A bare number without am/pm or minutes ("March 12") is a day, not a time.
    """
    if _CLOCK_WORDS.search(text or ""):
        return dt.time(12, 0)
    for match in _TIME.finditer(text or ""):
        hour, minute, half = int(match.group(1)), match.group(2), (match.group(3) or "").lower().replace(".", "")
        if not minute and not half:
            continue
        minute_value = int(minute or 0)
        if half == "pm" and hour < 12:
            hour += 12
        elif half == "am" and hour == 12:
            hour = 0
        if 0 <= hour < 24 and 0 <= minute_value < 60:
            return dt.time(hour, minute_value)
    return None


def mentions_closing(text: str) -> bool:
    """True when the founder talks about the closing date ("actually it closes March 12")."""
    return bool(_CLOSING_WORDS.search(text or ""))


def says_not_needed(text: str) -> bool:
    return bool(_NOT_NEEDED.search(text or ""))


def closing_value(day: dt.date, time: dt.time | None, tz: dt.tzinfo) -> str:
    """The slot value for a closing: "YYYY-MM-DD", or an ISO date-time with offset when the time is known."""
    if time is None:
        return day.isoformat()
    return dt.datetime.combine(day, time, tzinfo=tz).isoformat()


def parse_moment(value: str | None) -> dt.date | dt.datetime | None:
    """A slot or query value back as a date or an aware date-time; None when it is neither."""
    if not value:
        return None
    try:
        if "T" in value:
            moment = dt.datetime.fromisoformat(value)
            return moment if moment.tzinfo else None
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def day_of(moment: dt.date | dt.datetime, tz: dt.tzinfo) -> dt.date:
    return moment.astimezone(tz).date() if isinstance(moment, dt.datetime) else moment


# ---------------------------------------------------------------- calendar file (RFC 5545)

def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (continuation lines start with one space), never inside a character."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = 75 if not out else 74  # a continuation line's leading space counts
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _start(moment: dt.date | dt.datetime) -> list[str]:
    if isinstance(moment, dt.datetime):
        return [f"DTSTART:{_utc(moment)}", f"DTEND:{_utc(moment)}"]
    return [f"DTSTART;VALUE=DATE:{moment:%Y%m%d}",
            f"DTEND;VALUE=DATE:{moment + dt.timedelta(days=1):%Y%m%d}"]


def build_ics(events: Sequence[tuple[str, str, dt.date | dt.datetime, str]], stamp: dt.datetime,
              uid_seed: str) -> str:
    """A VCALENDAR with one VEVENT per (key, summary, start, description).

    Timed events are written in UTC; an event whose time isn't known is an all-day event. `stamp` (aware) is
    the DTSTAMP; UIDs are stable for the same `uid_seed` and key, so re-importing updates rather than duplicates.
    """
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Supplier Navigator//Bid readiness//EN",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    for key, summary, start, description in events:
        digest = hashlib.sha256(f"{uid_seed}|{key}".encode()).hexdigest()[:24]
        lines += ["BEGIN:VEVENT", f"UID:{digest}-{key}@supplier-navigator", f"DTSTAMP:{_utc(stamp)}",
                  *_start(start), f"SUMMARY:{_escape(summary)}"]
        if description:
            lines.append(f"DESCRIPTION:{_escape(description)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def ics_query(*, closing: str, closing_summary: str, question_deadline: str | None, question_summary: str,
              stamp: dt.datetime, reference: str = "") -> str:
    """The query string of the calendar download link (everything the file needs: the server keeps no state)."""
    params = {"close": closing, "close_summary": closing_summary, "stamp": _utc(stamp)}
    if question_deadline:
        params["questions"] = question_deadline
        params["questions_summary"] = question_summary
    if reference:
        params["ref"] = reference
    return urlencode(params)


def ics_from_query(params: Mapping[str, str]) -> str | None:
    """The calendar for a download link's query parameters; None when they don't describe one."""
    closing = parse_moment(params.get("close"))
    questions = parse_moment(params.get("questions")) if params.get("questions") else None
    try:
        stamp = dt.datetime.strptime(params.get("stamp") or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    if closing is None or (params.get("questions") and questions is None):
        return None
    reference = (params.get("ref") or "").strip()[:100]
    events = []
    if questions is not None:
        events.append(("questions", (params.get("questions_summary") or "")[:300], questions, reference))
    events.append(("closing", (params.get("close_summary") or "")[:300], closing, reference))
    return build_ics(events, stamp, f"{reference}|{params.get('close')}")
