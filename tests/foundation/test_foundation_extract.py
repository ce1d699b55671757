"""The rule-based spaCy entity extractor: amounts, counts, dates, windows and vocabulary from knowledge/."""
from __future__ import annotations

import pytest

from bot.nlu.extract import extract_entities


def values(text: str, entity: str) -> list:
    return [e.value for e in extract_entities(text) if e.entity == entity]


@pytest.mark.parametrize("text, amount", [
    ("a $40k services deal", 40000),
    ("about 110 thousand", 110000),
    ("1.2M contract", 1200000),
    ("$1.2 million", 1200000),
    ("40,000 dollars", 40000),
    ("$40,000", 40000),
    ("CA$50,000 for software", 50000),
    ("it's worth 40K", 40000),
    ("$2.5m project", 2500000),
    ("actually it's 90k", 90000),
    ("40000", 40000),
    ("$99.50 per licence", 99.5),
])
def test_money_amounts_are_normalized_to_dollars(text, amount):
    assert values(text, "amount") == [amount]


@pytest.mark.parametrize("text", [
    "we need 3 suppliers",
    "closing in 2026",
    "we have 12 employees",
    "is it due on March 15",
    "what is 5 percent",
])
def test_numbers_that_are_not_money_are_not_amounts(text):
    assert values(text, "amount") == []


def test_employee_counts():
    assert values("we are 45 full-time staff and $3M revenue", "employees") == [45]
    assert values("we are 45 full-time staff and $3M revenue", "amount") == [3000000]
    assert values("just 2 people", "employees") == [2]


@pytest.mark.parametrize("text, value, role", [
    ("closing before March 1", "--03-01", "before"),
    ("tenders closing by jan 15, 2027", "2027-01-15", "before"),
    ("closing after 2027-01-15", "2027-01-15", "after"),
    ("on 1 march 2027", "2027-03-01", None),
    ("due Sept. 30", "--09-30", None),
])
def test_dates_with_their_role(text, value, role):
    dates = [e for e in extract_entities(text) if e.entity == "date"]
    assert [(d.value, d.role) for d in dates] == [(value, role)]


def test_impossible_dates_are_not_dates():
    assert values("march 32", "date") == []
    assert values("feb 30 2027", "date") == []


@pytest.mark.parametrize("text, window", [
    ("show me IT tenders closing this week", "this_week"),
    ("anything closing this month?", "this_month"),
    ("closing in the next 10 days", "next_10_days"),
    ("within 2 weeks", "next_14_days"),
    ("due tomorrow", "tomorrow"),
])
def test_closing_windows(text, window):
    assert values(text, "closing_window") == [window]


def test_regions_prefer_the_longest_phrase():
    assert values("tenders in northern ontario", "region") == ["Northern Ontario"]
    assert values("anything in the NCR or Toronto?", "region") == ["National Capital Region", "Toronto"]


def test_buyer_types_and_categories_come_from_the_knowledge_tables():
    entities = extract_entities("a 60k software services contract with a hospital")
    found = {(e.entity, e.value) for e in entities}
    assert ("amount", 60000) in found
    assert ("buyer_type", "bps") in found
    assert ("category", "services") in found
    assert ("buyer_type", "federal") in {(e.entity, e.value) for e in extract_entities("selling to the federal government")}


def test_glossary_terms_are_entities():
    assert "RFSQ" in values("what's an rfsq", "term")


def test_entity_offsets_point_at_the_text():
    text = "a 60k deal in Toronto"
    for entity in extract_entities(text):
        assert text[entity.start:entity.end] == entity.text


@pytest.mark.parametrize("text", ["", "   ", "💼💼", "\u202e\u0645\u0631\u062d\u0628\u0627", "<script>alert(1)</script>", "a" * 10000])
def test_odd_input_never_raises(text):
    assert isinstance(extract_entities(text), list)


def test_the_rasa_component_builds_the_spacy_pipeline_when_it_is_created_not_on_the_first_message():
    from bot.nlu import extract
    from bot.nlu.entities import ProcurementEntityExtractor

    extract.default_extractor.cache_clear()
    try:
        ProcurementEntityExtractor.create({}, None, None, None)
        assert extract.default_extractor.cache_info().currsize == 1
        built = extract.default_extractor()
        assert values("a $40k services deal", "amount") == [40000] and extract.default_extractor() is built
    finally:
        extract.default_extractor.cache_clear()
