"""Micro, small or medium: the firm's size by the employee bands of `knowledge/tables/business_size.yml`.

Bands may nest (micro is part of small), so the narrowest band that holds the count names the firm.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

Row = Mapping[str, Any]

# Input sanity, not a definition: a founder typing more than this many employees has made a typo.
MAX_PLAUSIBLE_EMPLOYEES = 1_000_000


@dataclass(frozen=True)
class SizeVerdict:
    """`kind` is 'band' (row is the narrowest band), 'below' (fewer than any band) or 'above' (larger than all)."""

    kind: str
    row: Row
    bands: tuple[Row, ...] = ()


def employees_problem(value: Any) -> str | None:
    """Why `value` cannot be an employee count ('not_a_number', 'negative', 'not_whole', 'too_large') or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "not_a_number"
    if value < 0:
        return "negative"
    if float(value) != int(value):
        return "not_whole"
    if value > MAX_PLAUSIBLE_EMPLOYEES:
        return "too_large"
    return None


def classify_size(sizes: Sequence[Row], employees: int) -> SizeVerdict:
    """The narrowest band holding `employees`; else the nearest band, marked as below or above all bands."""
    bands = [r for r in sizes if r["min_employees"] <= employees <= r["max_employees"]]
    if bands:
        narrowest = min(bands, key=lambda r: r["max_employees"] - r["min_employees"])
        return SizeVerdict("band", narrowest, tuple(bands))
    if employees < min(r["min_employees"] for r in sizes):
        return SizeVerdict("below", min(sizes, key=lambda r: r["min_employees"]))
    return SizeVerdict("above", max(sizes, key=lambda r: r["max_employees"]))
