"""Rule-based entity extraction with a blank spaCy English pipeline (no model download).

Finds money amounts ("$40k", "110 thousand", "1.2M"), employee counts, dates and closing windows,
buyer types, categories, regions and glossary terms, each with a normalized value:

- amount: a number of dollars (int, or float when it has cents)
- employees: an int
- date: ISO "YYYY-MM-DD", or "--MM-DD" when the year was not said; role "before"/"after" when a
  word like "before" or "after" precedes it
- closing_window: "today", "this_week", "next_month", "next_14_days", ...
- buyer_type, category: ids from knowledge/tables/buyer_types.yml and categories.yml
- region: a region name from patterns.yml
- term: a glossary term from knowledge/tables/glossary.yml

Relative dates are never resolved here: that needs a clock, which the caller passes to
`bot.nlu.dates.resolve`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from bot import settings

PATTERNS_FILE = Path(__file__).with_name("patterns.yml")

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_NUMBER = re.compile(r"^(?:c?a?\$|can\$|us\$)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?([km]{1,2}|b)?$", re.IGNORECASE)
_DAY = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?$", re.IGNORECASE)
_YEAR = re.compile(r"^(19|20)\d\d$")


@dataclass(frozen=True)
class Entity:
    entity: str
    start: int
    end: int
    text: str
    value: Any
    role: str | None = None

    def as_rasa(self) -> dict[str, Any]:
        entity = {"entity": self.entity, "start": self.start, "end": self.end, "value": self.value,
                  "confidence_entity": 1.0}
        if self.role:
            entity["role"] = self.role
        return entity


@dataclass
class Vocabulary:
    """Phrase lists by entity and normalized value."""

    phrases: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    multipliers: dict[str, int] = field(default_factory=dict)
    currency_words: set[str] = field(default_factory=set)
    count_units: set[str] = field(default_factory=set)
    employee_units: list[str] = field(default_factory=list)
    before_words: list[str] = field(default_factory=list)
    after_words: list[str] = field(default_factory=list)
    windows: dict[str, list[str]] = field(default_factory=dict)


def _table_terms(path: Path, table: str, id_key: str, terms_key: str) -> dict[str, list[str]]:
    """Reads {id: [terms]} from a knowledge table; a missing or broken file gives no terms (the validator reports it)."""
    try:
        rows = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(table) or []
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    result: dict[str, list[str]] = {}
    for row in rows:
        if not isinstance(row, dict) or not row.get(id_key):
            continue
        value = str(row[id_key])
        terms = [str(t) for t in (row.get(terms_key) or []) if t]
        if terms_key != id_key:
            terms.append(value.replace("_", " "))
        result[value] = terms
    return result


def load_vocabulary(knowledge_dir: Path | None = None) -> Vocabulary:
    data = yaml.safe_load(PATTERNS_FILE.read_text(encoding="utf-8"))
    tables = (knowledge_dir or settings.path("KNOWLEDGE_DIR")) / "tables"
    glossary = _table_terms(tables / "glossary.yml", "glossary", "term", "term")
    return Vocabulary(
        phrases={
            "region": {k: [str(p) for p in v] for k, v in data["regions"].items()},
            "buyer_type": _table_terms(tables / "buyer_types.yml", "buyer_types", "id", "terms"),
            "category": _table_terms(tables / "categories.yml", "categories", "id", "terms"),
            "term": {term: [term] for term in glossary},
        },
        multipliers={str(k): int(v) for k, v in data["money"]["multipliers"].items()},
        currency_words={str(w) for w in data["money"]["currency_words"]},
        count_units={str(w) for w in data["money"]["count_units"]},
        employee_units=[str(w) for w in data["employees"]["units"]],
        before_words=[str(w) for w in data["dates"]["before"]],
        after_words=[str(w) for w in data["dates"]["after"]],
        windows={k: [str(p) for p in v] for k, v in data["dates"]["windows"].items()},
    )


class EntityExtractor:
    """A blank spaCy pipeline with phrase and token patterns; build once, reuse for every message."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        import spacy
        from spacy.matcher import Matcher, PhraseMatcher

        self.vocabulary = vocabulary
        self.nlp = spacy.blank("en")
        self.phrase_matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._phrase_values: dict[str, tuple[str, str]] = {}
        for entity, values in vocabulary.phrases.items():
            for value, phrases in values.items():
                key = f"{entity}\x1f{value}"
                self._phrase_values[key] = (entity, value)
                self.phrase_matcher.add(key, list(self.nlp.tokenizer.pipe(phrases)))
        for window, phrases in vocabulary.windows.items():
            key = f"closing_window\x1f{window}"
            self._phrase_values[key] = ("closing_window", window)
            self.phrase_matcher.add(key, list(self.nlp.tokenizer.pipe(phrases)))

        number = {"TEXT": {"REGEX": "(?i)" + _NUMBER.pattern}}
        multiplier = {"LOWER": {"IN": sorted(vocabulary.multipliers)}}
        currency = {"LOWER": {"IN": sorted(vocabulary.currency_words)}}
        self.matcher = Matcher(self.nlp.vocab)
        self.matcher.add("amount", [
            [{"ORTH": "$", "OP": "?"}, number, multiplier, currency],
            [{"ORTH": "$", "OP": "?"}, number, multiplier],
            [{"ORTH": "$", "OP": "?"}, number, currency],
            [{"ORTH": "$"}, number],
            [number],
        ], greedy="LONGEST")
        self.matcher.add("employees", [
            [{"LIKE_NUM": True}, {"LOWER": {"IN": ["full", "part"]}, "OP": "?"}, {"ORTH": "-", "OP": "?"},
             {"LOWER": {"IN": ["time", "fulltime"]}, "OP": "?"}, {"LOWER": {"IN": vocabulary.employee_units}}],
        ], greedy="LONGEST")
        day = {"TEXT": {"REGEX": _DAY.pattern}}
        month = {"LOWER": {"IN": sorted(MONTHS) + [f"{name}." for name in MONTHS]}}
        year = {"TEXT": {"REGEX": _YEAR.pattern}}
        comma = {"ORTH": ",", "OP": "?"}
        self.matcher.add("date", [
            [month, {"ORTH": ".", "OP": "?"}, day, comma, year],
            [month, {"ORTH": ".", "OP": "?"}, day],
            [day, month, comma, year],
            [day, month],
            [year, {"ORTH": "-"}, {"TEXT": {"REGEX": r"^\d{1,2}$"}}, {"ORTH": "-"}, {"TEXT": {"REGEX": r"^\d{1,2}$"}}],
        ], greedy="LONGEST")
        self.matcher.add("closing_window", [
            [{"LOWER": {"IN": ["next", "within", "in"]}}, {"LOWER": {"IN": ["the", "next"]}, "OP": "*"},
             {"TEXT": {"REGEX": r"^\d{1,3}$"}}, {"LOWER": {"IN": ["day", "days", "week", "weeks"]}}],
        ], greedy="LONGEST")

    def extract(self, text: str) -> list[Entity]:
        from spacy.util import filter_spans

        doc = self.nlp(text)
        candidates = []
        for match_id, start, end in self.phrase_matcher(doc):
            entity, value = self._phrase_values[self.nlp.vocab.strings[match_id]]
            candidates.append((doc[start:end], entity, value))
        for match_id, start, end in self.matcher(doc):
            label = self.nlp.vocab.strings[match_id]
            span = doc[start:end]
            value = self._normalize(label, span)
            if value is not None:
                candidates.append((span, label, value))

        by_span = {(span.start, span.end): (entity, value) for span, entity, value in candidates}
        kept = filter_spans([span for span, _, _ in candidates])
        entities = []
        for span in sorted(kept, key=lambda s: s.start):
            entity, value = by_span[(span.start, span.end)]
            role = self._date_role(doc, span) if entity == "date" else None
            entities.append(Entity(entity, span.start_char, span.end_char, span.text, value, role))
        return entities

    def _normalize(self, label: str, span: Any) -> Any:
        if label == "amount":
            return self._amount(span)
        if label == "employees":
            digits = re.sub(r"[^\d]", "", span[0].text)
            return int(digits) if digits else None
        if label == "date":
            return _date_value(span)
        if label == "closing_window":
            count = int(next(t.text for t in span if t.text.isdigit()))
            unit_days = 7 if span[-1].lower_.startswith("week") else 1
            return f"next_{count * unit_days}_days" if count > 0 else None
        return None

    def _amount(self, span: Any) -> int | float | None:
        tokens = list(span)
        has_dollar = tokens[0].text == "$" or "$" in tokens[0].text or (len(tokens) > 1 and "$" in tokens[1].text)
        if tokens[0].text == "$":
            tokens = tokens[1:]
        match = _NUMBER.match(tokens[0].text)
        if not match:
            return None
        whole, fraction, suffix = match.groups()
        has_dollar = has_dollar or "$" in tokens[0].text
        value = float(f"{whole.replace(',', '')}.{fraction or 0}")
        rest = [t.lower_ for t in tokens[1:]]
        factor = 1
        if suffix:
            factor = self.vocabulary.multipliers.get(suffix.lower(), 1)
        elif rest and rest[0] in self.vocabulary.multipliers:
            factor = self.vocabulary.multipliers[rest[0]]
        has_currency = any(word in self.vocabulary.currency_words for word in rest)
        if factor == 1 and not has_dollar and not has_currency:
            # A bare number is money only when it is large, not a year and not a count of something.
            following = span.doc[span.end].lower_ if span.end < len(span.doc) else ""
            if value < 1000 or following in self.vocabulary.count_units or _YEAR.match(whole) or fraction:
                return None
        if factor == 1 and not has_dollar and not has_currency and span.start > 0:
            previous = span.doc[span.start - 1]
            if previous.lower_.rstrip(".") in MONTHS or previous.text == "-":
                return None
        amount = value * factor
        if amount <= 0:
            return None
        return int(amount) if amount == int(amount) else round(amount, 2)

    def _date_role(self, doc: Any, span: Any) -> str | None:
        before_text = doc[max(0, span.start - 4):span.start].text.lower()
        for role, words in (("before", self.vocabulary.before_words), ("after", self.vocabulary.after_words)):
            if any(re.search(rf"(?:^|\s){re.escape(w)}(?:\s+the)?$", before_text) for w in words):
                return role
        return None


def _date_value(span: Any) -> str | None:
    words = [t.text.lower().rstrip(".") for t in span if t.text not in {",", ".", "-"}]
    try:
        if len(words) == 3 and words[0].isdigit() and len(words[0]) == 4:
            year, month, day = int(words[0]), int(words[1]), int(words[2])
        else:
            month_word = next(w for w in words if w in MONTHS)  # words have lost any trailing "."
            month = MONTHS[month_word]
            day = int(_DAY.match(next(w for w in words if _DAY.match(w) and w != month_word)).group(1))
            year_words = [w for w in words if _YEAR.match(w)]
            year = int(year_words[0]) if year_words else None
        import datetime

        datetime.date(year or 2000, month, day)  # validates the day of the month (2000 is a leap year)
    except (StopIteration, ValueError, AttributeError):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


@lru_cache(maxsize=1)
def default_extractor() -> EntityExtractor:
    """The process-wide extractor, built on first use from patterns.yml and the knowledge tables."""
    return EntityExtractor(load_vocabulary())


def extract_entities(text: str, extractor: EntityExtractor | None = None) -> list[Entity]:
    return (extractor or default_extractor()).extract(text)


def first_value(entities: Iterable[Entity], name: str) -> Any:
    return next((e.value for e in entities if e.entity == name), None)
