"""Whether a founder is ready for an Ontario Vendor of Record (VOR) competition, from the vor_readiness table.

Each row of `knowledge/tables/vor_readiness.yml` is one requirement; the founder answers "yes", "no" or, for
rows that apply only if relevant, "not_needed". The row's `kind` decides what a "no" means.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

Row = Mapping[str, Any]

ANSWERS = ("yes", "no", "not_needed")
READY, NEARLY_READY, NOT_THE_ROUTE = "ready", "nearly_ready", "not_the_route"


class MissingAnswer(ValueError):
    """A requirement has no answer (or an answer it does not allow)."""


@dataclass(frozen=True)
class VorVerdict:
    """`verdict` is ready, nearly_ready or not_the_route; `unmet` are the rows that decided it, in file order."""

    verdict: str
    unmet: tuple[Row, ...]
    next_steps: tuple[Row, ...]


def slot_name(row_id: str) -> str:
    """The conversation slot holding the answer for a requirement row (`otp-registered` → `vor_otp_registered`)."""
    return "vor_" + row_id.replace("-", "_")


def allowed_answers(row: Row) -> tuple[str, ...]:
    return ANSWERS if row["applies"] == "if_relevant" else ANSWERS[:2]


def decide_vor(requirements: Sequence[Row], answers: Mapping[str, str]) -> VorVerdict:
    """The verdict for `answers` ({row id: yes|no|not_needed}) over every requirement row."""
    unmet = []
    for row in requirements:
        answer = answers.get(row["id"])
        if answer not in allowed_answers(row):
            raise MissingAnswer(f"{row['id']}: {answer!r}")
        if answer == "no":
            unmet.append(row)
    if any(r["kind"] in ("route", "blocking") for r in unmet):
        verdict = NOT_THE_ROUTE
    elif unmet:
        verdict = NEARLY_READY
    else:
        verdict = READY
    # Nothing to fix: the next step is to watch for the competition (the route rows say how).
    steps = unmet or [r for r in requirements if r["kind"] == "route"]
    return VorVerdict(verdict, tuple(unmet), tuple(steps))


def previous_requirement(requirements: Sequence[Row], requested_slot: str | None) -> Row | None:
    """The requirement answered just before the one being asked (the last one once the form is done)."""
    slots = [slot_name(r["id"]) for r in requirements]
    if requested_slot is None:
        return requirements[-1] if requirements else None
    if requested_slot not in slots:
        return None
    index = slots.index(requested_slot)
    return requirements[index - 1] if index > 0 else None
