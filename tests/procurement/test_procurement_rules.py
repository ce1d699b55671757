"""Which rules apply: each branch, and the values just below, at and just above every threshold in the tables."""
from __future__ import annotations

import datetime as dt

import pytest

from bot import settings
from bot.knowledge.loader import load_knowledge
from bot.procurement import rules

TABLES = load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables
# A day on which every row in the tables is in force.
TODAY = max(r["effective_date"] for name in ("methods", "trade_agreements", "preferences") for r in TABLES[name])


def _cases(table):
    for row in TABLES[table]:
        yield pytest.param(row, id=row["id"])


@pytest.mark.parametrize("row", _cases("methods"))
def test_each_method_band_holds_its_lower_edge_and_not_the_value_below(row):
    buyer, category, low = row["buyer"], row["category"], row["min_value"]
    assert rules.applicable_method(TABLES["methods"], buyer, category, low, TODAY)["id"] == row["id"]
    assert rules.applicable_method(TABLES["methods"], buyer, category, low + 1, TODAY)["id"] == row["id"]
    if low > 0:
        below = rules.applicable_method(TABLES["methods"], buyer, category, low - 1, TODAY)
        assert below["id"] != row["id"] and below["max_value"] == low
    if row.get("max_value") is not None:
        assert rules.applicable_method(TABLES["methods"], buyer, category, row["max_value"] - 1, TODAY)["id"] == row["id"]
        assert rules.applicable_method(TABLES["methods"], buyer, category, row["max_value"], TODAY)["id"] != row["id"]


@pytest.mark.parametrize("row", _cases("trade_agreements"))
def test_a_trade_agreement_applies_at_and_above_its_threshold_not_below(row):
    def ids(value):
        found = rules.applicable_agreements(TABLES["trade_agreements"], row["buyer"], row["category"], value, TODAY)
        return {r["id"] for r in found}

    assert row["id"] not in ids(row["min_value"] - 1)
    assert row["id"] in ids(row["min_value"])
    assert row["id"] in ids(row["min_value"] + 1)


@pytest.mark.parametrize("row", _cases("preferences"))
def test_a_preference_applies_inside_its_band_only(row):
    def ids(value):
        found = rules.applicable_preferences(TABLES["preferences"], row["buyer"], row["category"], value, TODAY)
        return {r["id"] for r in found}

    assert row["id"] in ids(row["min_value"])
    if row.get("max_value") is not None:
        assert row["id"] in ids(row["max_value"] - 1)
        assert row["id"] not in ids(row["max_value"])
        assert row["id"] not in ids(row["max_value"] + 1)


def test_rows_not_yet_in_force_are_ignored_and_the_latest_set_wins():
    band = TABLES["methods"][0]
    newer = {**band, "id": "newer", "effective_date": TODAY + dt.timedelta(days=30)}
    methods = [band, newer]
    assert rules.applicable_method(methods, band["buyer"], band["category"], band["min_value"], TODAY)["id"] == band["id"]
    later = TODAY + dt.timedelta(days=31)
    assert rules.applicable_method(methods, band["buyer"], band["category"], band["min_value"], later)["id"] == "newer"
    before_all = band["effective_date"] - dt.timedelta(days=1)
    assert rules.applicable_method(methods, band["buyer"], band["category"], band["min_value"], before_all) is None


def test_a_buyer_without_method_rows_gets_no_method_but_still_its_agreements():
    buyers_with_methods = {r["buyer"] for r in TABLES["methods"]}
    agreement = next(r for r in TABLES["trade_agreements"] if r["buyer"] not in buyers_with_methods)
    verdict = rules.decide_rules(TABLES, agreement["buyer"], agreement["category"], agreement["min_value"], TODAY)
    assert verdict.method is None
    assert agreement["id"] in {r["id"] for r in verdict.agreements}


def test_decide_rules_combines_the_three_tables():
    pref = TABLES["preferences"][0]
    value = pref["min_value"] + 1
    verdict = rules.decide_rules(TABLES, pref["buyer"], pref["category"], value, TODAY)
    assert verdict.method is not None and verdict.method["buyer"] == pref["buyer"]
    assert pref["id"] in {r["id"] for r in verdict.preferences}
    assert all(value >= r["min_value"] for r in verdict.agreements)


@pytest.mark.parametrize("value, problem", [
    (60000, None), (1, None), (rules.MAX_PLAUSIBLE_VALUE, None),
    (0, "not_positive"), (-5000, "not_positive"), (rules.MAX_PLAUSIBLE_VALUE + 1, "too_large"),
    ("banana", "not_a_number"), (None, "not_a_number"), (True, "not_a_number"),
])
def test_value_problem(value, problem):
    assert rules.value_problem(value) == problem


@pytest.mark.parametrize("values, expected", [
    (["consulting", "services"], "consulting"), (["services"], "services"), (["goods", "services"], "goods"),
    (["construction"], "construction"), ([], None), (["banana"], None),
])
def test_pick_category_prefers_the_narrower_category(values, expected):
    assert rules.pick_category(values) == expected


@pytest.mark.parametrize("buyer", [r["id"] for r in TABLES["buyer_types"]])
def test_next_steps_come_from_the_buyers_registration_checklist(buyer):
    steps = rules.next_steps(TABLES["checklists"], buyer)
    checklist = rules.registration_checklist(TABLES["checklists"], buyer)
    assert checklist is not None and checklist["audience"] == [buyer]
    assert steps == checklist["steps"][:3] and steps


def test_next_steps_for_an_unknown_buyer_is_empty():
    assert rules.next_steps(TABLES["checklists"], "nobody") == []


def test_name_of_and_format_cad():
    first = TABLES["buyer_types"][0]
    assert rules.name_of(TABLES["buyer_types"], first["id"]) == first["name"]
    assert rules.name_of(TABLES["buyer_types"], "unknown") == "unknown"
    assert rules.format_cad(60000) == "$60,000"
    assert rules.format_cad(1200000.0) == "$1,200,000"
    assert rules.format_cad(12345.5) == "$12,345.50"
