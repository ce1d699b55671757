"""The registration walkthrough, one step at a time, over the checklists table.

Every step shown comes from `knowledge/tables/checklists.yml`; this module only picks the checklist for where
the founder wants to sell, moves the walkthrough forward and back, reads free-text commands at a step
("done", "skip", "why?", "back") and summarizes what was done and skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bot.procurement.rules import registration_checklist

Row = Mapping[str, Any]

DONE, SKIP, WHY, BACK = "done", "skip", "why", "back"
COMMANDS = (DONE, SKIP, WHY, BACK)
# What a step ends up as in the founder's progress ({step id: status}).
STATUS_DONE, STATUS_SKIPPED = "done", "skipped"

# Free-text commands at a step, tried in this order ("skip it, already done" is a skip: the first match wins
# by position in the text, see parse_step_command).
_PATTERNS = {
    WHY: re.compile(r"\bwhy\b|what'?s the point|what is the point|why does (it|this) matter", re.IGNORECASE),
    BACK: re.compile(r"\b(go back|back|previous|prev|last step|step before|undo)\b", re.IGNORECASE),
    SKIP: re.compile(r"\b(skip|skipping|later|not now|pass|not applicable|n/a|doesn'?t apply|next one)\b",
                     re.IGNORECASE),
    DONE: re.compile(r"\b(done|did it|did that|finished|completed?|got it|already (have|did|registered)|"
                     r"registered|ok|okay|yes|yep|yeah|next)\b", re.IGNORECASE),
}


@dataclass(frozen=True)
class Progress:
    """`number` is the 1-based step being shown; `done` and `skipped` count steps by status."""

    number: int
    total: int
    done: int
    skipped: int


def targets(checklists: Sequence[Row]) -> list[str]:
    """The buyer types that have their own registration checklist, in file order."""
    return [c["audience"][0] for c in checklists if len(c["audience"]) == 1]


def checklist_for(checklists: Sequence[Row], target: str | None) -> Row | None:
    """The registration checklist for where the founder wants to sell (None when there is none)."""
    if not target:
        return None
    return registration_checklist(checklists, target)


def clamp_index(index: Any, total: int) -> int:
    """A stored step index as an int within 0..total (total means the walkthrough is finished)."""
    try:
        value = int(index or 0)
    except (TypeError, ValueError):
        value = 0
    return max(0, min(value, total))


def next_index(index: int, total: int) -> int:
    """The step after `index`; `total` once the last step is answered."""
    return min(index + 1, total)


def previous_index(index: int) -> int | None:
    """The step before `index`, or None at the first step."""
    return index - 1 if index > 0 else None


def is_finished(index: int, total: int) -> bool:
    return index >= total


def parse_step_command(text: str) -> str | None:
    """done, skip, why or back from free text at a step; None when the text is none of them."""
    found = [(m.start(), command) for command, pattern in _PATTERNS.items() if (m := pattern.search(text or ""))]
    return min(found)[1] if found else None


def update_status(status: Mapping[str, str] | None, step_id: str, command: str) -> dict[str, str]:
    """The progress after answering `command` (done or skip) at the step `step_id`."""
    updated = dict(status or {})
    updated[step_id] = STATUS_DONE if command == DONE else STATUS_SKIPPED
    return updated


def progress(checklist: Row, index: int, status: Mapping[str, str] | None) -> Progress:
    steps = checklist["steps"]
    ids = {s["id"] for s in steps}
    values = [v for k, v in (status or {}).items() if k in ids]
    return Progress(number=min(index, len(steps) - 1) + 1, total=len(steps),
                    done=values.count(STATUS_DONE), skipped=values.count(STATUS_SKIPPED))


def steps_with_status(checklist: Row, status: Mapping[str, str] | None, wanted: str | None) -> list[Row]:
    """The checklist's steps whose status is `wanted` (None: not answered yet), in checklist order."""
    return [s for s in checklist["steps"] if (status or {}).get(s["id"]) == wanted]
