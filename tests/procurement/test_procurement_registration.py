"""Registration walkthrough: choosing the checklist, moving through its steps, and free-text commands."""
from __future__ import annotations

import pytest

from bot import settings
from bot.knowledge.loader import load_knowledge
from bot.procurement import registration as reg

CHECKLISTS = load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables["checklists"]
TARGETS = ("ontario_ministry", "bps", "federal", "municipal")


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_has_its_own_checklist_with_complete_steps(target):
    checklist = reg.checklist_for(CHECKLISTS, target)
    assert checklist is not None and list(checklist["audience"]) == [target]
    assert checklist["steps"]
    for step in checklist["steps"]:
        assert all(step.get(field) for field in ("id", "title", "detail", "why", "url")), step.get("id")
    assert len({s["id"] for s in checklist["steps"]}) == len(checklist["steps"])


def test_targets_are_the_single_audience_checklists_and_shared_checklists_are_not_chosen():
    assert set(reg.targets(CHECKLISTS)) == set(TARGETS)
    for target in TARGETS:
        assert len(reg.checklist_for(CHECKLISTS, target)["audience"]) == 1


@pytest.mark.parametrize("target", [None, "", "provincial_parliament"])
def test_no_checklist_for_an_unknown_or_missing_target(target):
    assert reg.checklist_for(CHECKLISTS, target) is None


def test_next_and_previous_index_stay_in_range():
    assert reg.next_index(0, 3) == 1 and reg.next_index(2, 3) == 3 and reg.next_index(3, 3) == 3
    assert reg.previous_index(0) is None and reg.previous_index(2) == 1
    assert reg.is_finished(3, 3) and not reg.is_finished(2, 3)


@pytest.mark.parametrize("stored, expected", [(None, 0), (0.0, 0), (2.0, 2), (-1, 0), (99, 5), ("x", 0)])
def test_clamp_index(stored, expected):
    assert reg.clamp_index(stored, 5) == expected


def test_progress_counts_done_and_skipped_steps_of_this_checklist_only():
    checklist = reg.checklist_for(CHECKLISTS, "federal")
    first, second = (s["id"] for s in checklist["steps"][:2])
    status = reg.update_status({}, first, reg.DONE)
    status = reg.update_status(status, second, reg.SKIP)
    status["a-step-of-another-checklist"] = reg.STATUS_DONE
    shown = reg.progress(checklist, 2, status)
    assert (shown.number, shown.total, shown.done, shown.skipped) == (3, len(checklist["steps"]), 1, 1)
    assert reg.steps_with_status(checklist, status, reg.STATUS_SKIPPED) == [checklist["steps"][1]]
    # Once finished, the step shown stays the last one.
    assert reg.progress(checklist, len(checklist["steps"]), status).number == len(checklist["steps"])


def test_answering_a_step_again_replaces_its_status():
    status = reg.update_status({"s": reg.STATUS_SKIPPED}, "s", reg.DONE)
    assert status == {"s": reg.STATUS_DONE}


@pytest.mark.parametrize("text, command", [
    ("done", reg.DONE), ("I did it", reg.DONE), ("we're already registered", reg.DONE), ("yes", reg.DONE),
    ("skip", reg.SKIP), ("later", reg.SKIP), ("skip it, not now", reg.SKIP),
    ("why?", reg.WHY), ("why does this matter", reg.WHY),
    ("back", reg.BACK), ("go back to the previous step", reg.BACK),
    ("banana", None), ("", None),
])
def test_parse_step_command(text, command):
    assert reg.parse_step_command(text) == command
