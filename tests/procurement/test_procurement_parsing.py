"""Free-text numbers the entity extractor leaves out."""
from __future__ import annotations

import pytest

from bot.procurement.parsing import parse_number


@pytest.mark.parametrize("text, expected", [
    ("12", 12.0), ("60000", 60000.0), ("$ 40,000", 40000.0), ("about 75000", 75000.0), ("12.5", 12.5),
    ("-5000", -5000.0), ("it's -$40,000", -40000.0), ("− 3", -3.0),
    ("banana", "banana"), ("", ""), ("12 apples and 3 pears", "12 apples and 3 pears"), ("covid-19", "covid-19"),
])
def test_parse_number(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("actually no", "no"), ("sorry, I meant yes", "yes"), ("yep", "yes"), ("we don't", "no"),
    ("yes and no", None), ("banana", None), ("", None), ("nothing", None),
])
def test_parse_yes_no(text, expected):
    from bot.procurement.parsing import parse_yes_no

    assert parse_yes_no(text) == expected
