"""Reading a founder's free-text answers where the entity extractor found nothing (bare numbers, yes/no).

Money, employee counts and categories normally come from the spaCy entities; these helpers cover what the
extractor deliberately leaves out, such as "-5000" (so it can be refused for the right reason) or "12".
"""
from __future__ import annotations

import re

_NEGATIVE = re.compile(r"(?<![\w.])[-−–]\s*\$?\s*(\d[\d,]*(?:\.\d+)?)")
_PLAIN = re.compile(r"\s*(?:about|around|roughly|approximately|~)?\s*\$?\s*(\d[\d,]*(?:\.\d+)?)\s*(?:dollars|\$)?\s*[.!]?\s*",
                    re.IGNORECASE)


def parse_number(text: str) -> float | str:
    """A bare or negative number typed as the whole answer ("12", "-5000", "$ 40,000") as a number.

    Anything else comes back unchanged, so the caller can tell "not a number" from "a bad number".
    """
    text = text or ""
    negative = _NEGATIVE.search(text)
    if negative:
        return -float(negative.group(1).replace(",", ""))
    plain = _PLAIN.fullmatch(text)
    if plain:
        return float(plain.group(1).replace(",", ""))
    return text


_YES = re.compile(r"\b(yes|yeah|yep|yup|correct|true)\b", re.IGNORECASE)
_NO = re.compile(r"\b(no|nope|nah|not|don't|dont|false)\b", re.IGNORECASE)


def parse_yes_no(text: str) -> str | None:
    """'yes' or 'no' when the text says exactly one of them ("actually no", "sorry, I meant yes"), else None."""
    yes, no = bool(_YES.search(text or "")), bool(_NO.search(text or ""))
    if yes == no:
        return None
    return "yes" if yes else "no"
