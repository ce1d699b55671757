"""Which procurement rules apply to a deal: method, posting, Ontario-business preference, trade agreements.

Every threshold comes from the `methods`, `trade_agreements` and `preferences` rows of
`knowledge/tables/thresholds.yml`; this module only chooses rows. Bands are `min_value` inclusive and
`max_value` exclusive; a trade agreement applies at or above its `min_value`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

Row = Mapping[str, Any]

# Input sanity, not a procurement rule: no single public contract a founder asks about is worth more than this,
# so a larger figure is almost surely a typo ("1.2B" for "1.2M") and is asked again.
MAX_PLAUSIBLE_VALUE = 10_000_000_000

# When a founder's words name two categories ("consulting services"), the narrower one decides the rules.
CATEGORY_PRIORITY = ("consulting", "construction", "goods", "services")


@dataclass(frozen=True)
class RulesVerdict:
    """The rows that apply to one buyer, category and value on a given day."""

    buyer: str
    category: str
    value: float
    method: Row | None
    agreements: list[Row] = field(default_factory=list)
    preferences: list[Row] = field(default_factory=list)


def value_problem(value: Any) -> str | None:
    """Why `value` cannot be a contract value ('not_a_number', 'not_positive', 'too_large'), or None if fine."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "not_a_number"
    if value <= 0:
        return "not_positive"
    if value > MAX_PLAUSIBLE_VALUE:
        return "too_large"
    return None


def pick_category(values: Iterable[str]) -> str | None:
    """The most specific category among the extracted values (consulting beats services), or None."""
    found = set(values)
    return next((c for c in CATEGORY_PRIORITY if c in found), None)


def _current(rows: Sequence[Row], today: dt.date) -> list[Row]:
    """Rows in force on `today`: for each set of rows, only those with the latest effective date not after today."""
    in_force = [r for r in rows if r["effective_date"] <= today]
    if not in_force:
        return []
    latest = max(r["effective_date"] for r in in_force)
    return [r for r in in_force if r["effective_date"] == latest]


def _in_band(row: Row, value: float) -> bool:
    upper = row.get("max_value")
    return row["min_value"] <= value and (upper is None or value < upper)


def applicable_method(methods: Sequence[Row], buyer: str, category: str, value: float, today: dt.date) -> Row | None:
    """The `methods` row whose band holds `value` for this buyer and category, or None if the table has none."""
    rows = _current([r for r in methods if r["buyer"] == buyer and r["category"] == category], today)
    return next((r for r in rows if _in_band(r, value)), None)


def applicable_agreements(agreements: Sequence[Row], buyer: str, category: str, value: float,
                          today: dt.date) -> list[Row]:
    """Trade-agreement rows reached by `value` (at or above `min_value`), latest in force per agreement."""
    chosen: list[Row] = []
    names = sorted({r["agreement"] for r in agreements if r["buyer"] == buyer and r["category"] == category})
    for name in names:
        rows = _current([r for r in agreements if r["agreement"] == name and r["buyer"] == buyer
                         and r["category"] == category], today)
        chosen.extend(r for r in rows if value >= r["min_value"])
    return sorted(chosen, key=lambda r: (r["min_value"], r["agreement"]))


def applicable_preferences(preferences: Sequence[Row], buyer: str, category: str, value: float,
                           today: dt.date) -> list[Row]:
    """Preference rows (such as the Ontario-business preference) whose band holds `value`."""
    rows = [r for r in preferences if r["buyer"] == buyer and r["category"] in (category, "any")]
    return [r for r in _current(rows, today) if _in_band(r, value)]


def decide_rules(tables: Mapping[str, Sequence[Row]], buyer: str, category: str, value: float,
                 today: dt.date) -> RulesVerdict:
    """Everything the rules_check flow reports, chosen from the threshold tables."""
    return RulesVerdict(
        buyer=buyer,
        category=category,
        value=value,
        method=applicable_method(tables["methods"], buyer, category, value, today),
        agreements=applicable_agreements(tables["trade_agreements"], buyer, category, value, today),
        preferences=applicable_preferences(tables["preferences"], buyer, category, value, today),
    )


def registration_checklist(checklists: Sequence[Row], buyer: str) -> Row | None:
    """The registration checklist for a buyer type (the first whose audience is only that kind of buyer)."""
    return next((c for c in checklists if list(c["audience"]) == [buyer]), None)


def next_steps(checklists: Sequence[Row], buyer: str, limit: int = 3) -> list[Row]:
    """The first `limit` steps of the buyer type's registration checklist: what to do next."""
    checklist = registration_checklist(checklists, buyer)
    return list(checklist["steps"][:limit]) if checklist else []


def name_of(rows: Sequence[Row], row_id: str) -> str:
    """The `name` of the row with this id (buyer types, categories), or the id itself if unknown."""
    return next((r["name"] for r in rows if r["id"] == row_id), row_id)


def format_cad(value: float) -> str:
    """$60,000 / $1,200,000 / $12,345.50 — for showing amounts back to the founder."""
    if float(value).is_integer():
        return f"${int(value):,}"
    return f"${value:,.2f}"


def markdown_steps(steps: Sequence[Row]) -> str:
    """Checklist steps as a Markdown list of links (a terminal shows the same text readably)."""
    return "\n".join(f"- [{s['title']}]({s['url']})" if s.get("url") else f"- {s['title']}" for s in steps)
