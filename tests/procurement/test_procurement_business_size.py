"""Micro, small, medium: every band edge (just below, at, just above) read from business_size.yml."""
from __future__ import annotations

import pytest

from bot import settings
from bot.knowledge.loader import load_knowledge
from bot.procurement.business_size import MAX_PLAUSIBLE_EMPLOYEES, classify_size, employees_problem

SIZES = load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables["business_size"]


def _holds(row, count):
    return row["min_employees"] <= count <= row["max_employees"]


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in SIZES])
def test_each_band_edge(row):
    for count in (row["min_employees"], row["max_employees"]):
        verdict = classify_size(SIZES, count)
        assert verdict.kind == "band" and row in verdict.bands
        # The narrowest band that holds the count wins (micro inside small).
        width = row["max_employees"] - row["min_employees"]
        assert verdict.row["max_employees"] - verdict.row["min_employees"] <= width
    for count in (row["min_employees"] - 1, row["max_employees"] + 1):
        verdict = classify_size(SIZES, count)
        assert row not in verdict.bands
        if verdict.kind == "band":
            assert _holds(verdict.row, count)


def test_a_count_in_nested_bands_gets_the_narrowest_and_lists_both():
    pairs = [(i, o) for i in SIZES for o in SIZES if i is not o and o["min_employees"] <= i["min_employees"]
             and i["max_employees"] <= o["max_employees"]]
    if not pairs:
        pytest.skip("no nested bands in the table")
    inner, outer = pairs[0]
    verdict = classify_size(SIZES, inner["max_employees"])
    assert verdict.row["id"] == inner["id"] and outer in verdict.bands


def test_below_and_above_every_band():
    lowest = min(r["min_employees"] for r in SIZES)
    highest = max(r["max_employees"] for r in SIZES)
    below = classify_size(SIZES, lowest - 1)
    assert below.kind == "below" and below.row["min_employees"] == lowest and below.bands == ()
    above = classify_size(SIZES, highest + 1)
    assert above.kind == "above" and above.row["max_employees"] == highest


@pytest.mark.parametrize("value, problem", [
    (0, None), (12, None), (12.0, None), (MAX_PLAUSIBLE_EMPLOYEES, None),
    (-1, "negative"), (2.5, "not_whole"), (MAX_PLAUSIBLE_EMPLOYEES + 1, "too_large"),
    ("twelve", "not_a_number"), (None, "not_a_number"), (False, "not_a_number"),
])
def test_employees_problem(value, problem):
    assert employees_problem(value) == problem
