"""VOR readiness: every kind of requirement, each answer, over the rows of vor_readiness.yml."""
from __future__ import annotations

import pytest

from bot import settings
from bot.knowledge.loader import load_knowledge
from bot.procurement.vor_readiness import (
    NEARLY_READY, NOT_THE_ROUTE, READY, MissingAnswer, allowed_answers, decide_vor, slot_name,
)

ROWS = load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables["vor_readiness"]
ALL_YES = {r["id"]: "yes" for r in ROWS}


def test_all_yes_is_ready_and_the_next_step_is_to_watch_for_the_competition():
    verdict = decide_vor(ROWS, ALL_YES)
    assert verdict.verdict == READY and verdict.unmet == ()
    assert verdict.next_steps and all(r["kind"] == "route" for r in verdict.next_steps)


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in ROWS])
def test_one_no_decides_by_the_rows_kind(row):
    verdict = decide_vor(ROWS, {**ALL_YES, row["id"]: "no"})
    expected = NEARLY_READY if row["kind"] == "preparable" else NOT_THE_ROUTE
    assert verdict.verdict == expected
    assert verdict.unmet == (row,) and verdict.next_steps == (row,)


def test_every_kind_is_present_in_the_table():
    assert {r["kind"] for r in ROWS} == {"route", "blocking", "preparable"}


def test_a_blocking_no_outweighs_preparable_ones_and_reasons_keep_file_order():
    preparable = [r for r in ROWS if r["kind"] == "preparable"]
    blocking = next(r for r in ROWS if r["kind"] == "blocking")
    answers = {**ALL_YES, blocking["id"]: "no", **{r["id"]: "no" for r in preparable}}
    verdict = decide_vor(ROWS, answers)
    assert verdict.verdict == NOT_THE_ROUTE
    assert [r["id"] for r in verdict.unmet] == [r["id"] for r in ROWS if answers[r["id"]] == "no"]


def test_not_needed_counts_as_met_only_where_the_row_allows_it():
    relevant = [r for r in ROWS if r["applies"] == "if_relevant"]
    assert relevant
    assert decide_vor(ROWS, {**ALL_YES, relevant[0]["id"]: "not_needed"}).verdict == READY
    always = next(r for r in ROWS if r["applies"] == "always")
    assert "not_needed" not in allowed_answers(always)
    with pytest.raises(MissingAnswer):
        decide_vor(ROWS, {**ALL_YES, always["id"]: "not_needed"})


def test_a_missing_answer_is_an_error_not_a_verdict():
    with pytest.raises(MissingAnswer):
        decide_vor(ROWS, {k: v for k, v in ALL_YES.items() if k != ROWS[0]["id"]})


def test_slot_names():
    assert slot_name("otp-registered") == "vor_otp_registered"


def test_previous_requirement():
    from bot.procurement.vor_readiness import previous_requirement

    assert previous_requirement(ROWS, slot_name(ROWS[1]["id"])) == ROWS[0]
    assert previous_requirement(ROWS, slot_name(ROWS[0]["id"])) is None
    assert previous_requirement(ROWS, None) == ROWS[-1]
    assert previous_requirement(ROWS, "deal_value") is None
    assert previous_requirement([], None) is None
