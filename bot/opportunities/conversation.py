"""From a founder's message to a SearchQuery, and from an Opportunity to the values the chat responses show.

Pure functions: entities come from bot.nlu.extract (as Rasa entity dicts), `now` is passed in, and the words
of the reply live in domain/opportunities.yml. Used by actions/opportunities.py and bot/alerts.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from bot import settings
from bot.nlu.dates import resolve_date, resolve_window
from bot.opportunities.model import FEED_TIMEZONE, Opportunity
from bot.opportunities.search import SearchQuery

PAGE_SIZE = 5

# Words that say "I am searching" rather than what for; dropped from the full-text keywords.
FILLER_WORDS = frozenset(
    """a an and any are as at be by can do for from get give have i im i'm in into is it its list look looking me
    my need new of on or our please see show some that the there these this those to us want we what which who
    with you your all open current currently available active closing close closes due ending
    tender tenders opportunity opportunities contract contracts bid bids bidding rfp rfps rfq rfqs rft rfts
    solicitation solicitations notice notices posting postings procurement procurements call calls
    find search week weeks month months day days today tomorrow next within soon value worth over under
    above below less more than least most up max min maximum minimum budget before after until till since
    by starting prior later no ahead government gov federal municipal city""".split()
)
# Category entity words that only name the category; other category terms ("web development") stay keywords too.
GENERIC_CATEGORY_WORDS = frozenset(
    "goods good services service construction consulting consultant consultancy products product supplies".split()
)
# The store has no separate consulting category: consulting notices are services.
STORE_CATEGORY = {"consulting": "services"}
# Words before an amount that make it a ceiling rather than a floor.
CEILING_WORDS = ("under", "below", "less than", "up to", "at most", "max", "maximum", "no more than", "within")
# Buyer names said the way founders say them: "City of Toronto", "Health Canada", "Parks Canada".
_BUYER_PATTERNS = (
    re.compile(r"\b(?:City|Town|Region|Regional Municipality|Municipality|County|Township) of (?:[A-Z][\w'-]+)"
               r"(?: [A-Z][\w'-]+)?"),
    re.compile(r"\b(?:[A-Z][a-z]+ )+Canada\b"),
)
_NOT_BUYERS = {"government of canada", "across canada", "anywhere in canada", "in canada"}
_WORD_RE = re.compile(r"[\w'’-]+", re.UNICODE)
_ENTITIES_USED = {"region", "category", "buyer_type", "date", "closing_window", "amount"}


@dataclass
class SearchRequest:
    """What was understood from one message: the query plus what to tell the founder about it."""

    query: SearchQuery
    keywords: str = ""
    filters: list[str] = field(default_factory=list)  # "region: Toronto", ... for "none found" hints


@dataclass(frozen=True)
class TopicCodes:
    id: str
    terms: tuple[str, ...]
    prefixes: tuple[str, ...]


def load_topic_codes(knowledge_dir: Path | None = None) -> list[TopicCodes]:
    """Rows of knowledge/tables/search_categories.yml (validated by `python -m bot knowledge validate`)."""
    path = (knowledge_dir or settings.path("KNOWLEDGE_DIR")) / "tables" / "search_categories.yml"
    return list(_topic_codes(str(path)))


@functools.lru_cache(maxsize=4)
def _topic_codes(path: str) -> tuple[TopicCodes, ...]:
    try:
        rows = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("search_categories") or []
    except (OSError, yaml.YAMLError, AttributeError):
        return ()
    return tuple(
        TopicCodes(str(r["id"]), tuple(str(t) for t in r.get("terms") or []),
                   tuple(str(p) for p in r.get("unspsc_prefixes") or []))
        for r in rows if isinstance(r, dict) and r.get("id")
    )


def _find_phrase(text: str, phrase: str) -> tuple[int, int] | None:
    """Span of `phrase` as whole words; a phrase in capitals ("IT") must match in capitals."""
    flags = 0 if phrase.isupper() else re.IGNORECASE
    match = re.search(rf"(?<![\w.]){re.escape(phrase)}(?![\w])", text, flags)
    return match.span() if match else None


def find_topic_codes(text: str, topics: Sequence[TopicCodes]) -> tuple[list[str], list[tuple[int, int]], list[str]]:
    """UNSPSC prefixes for the topics named in `text`, the spans that named them and the topic ids."""
    prefixes: list[str] = []
    spans: list[tuple[int, int]] = []
    ids: list[str] = []
    for topic in topics:
        for term in sorted(topic.terms, key=len, reverse=True):
            span = _find_phrase(text, term)
            if span:
                spans.append(span)
                ids.append(topic.id)
                prefixes.extend(p for p in topic.prefixes if p not in prefixes)
                break
    return prefixes, spans, ids


def find_buyer(text: str, known_buyers: Iterable[str] = ()) -> tuple[str, tuple[int, int] | None]:
    """The buyer named in `text` and its span: a known buyer phrase first (longest), else "City of X"/"X Canada"."""
    best: tuple[str, tuple[int, int]] | None = None
    for phrase in known_buyers:
        span = _find_phrase(text, phrase) if len(phrase) > 2 else None
        if span and (best is None or span[1] - span[0] > best[1][1] - best[1][0]):
            best = (text[span[0]:span[1]], span)
    if best:
        return best
    for pattern in _BUYER_PATTERNS:
        for match in pattern.finditer(text):
            name = match.group(0).strip()
            # "Show me ... Health Canada": drop leading words that are not part of the name.
            words = name.split()
            while len(words) > 2 and words[0].lower() in FILLER_WORDS | {"show", "any", "find"}:
                words = words[1:]
            name = " ".join(words)
            if name.lower() in _NOT_BUYERS or name.lower() == "canada":
                continue
            start = match.end() - len(name)
            return name, (start, match.end())
    return "", None


def buyer_phrases(buyer_names: Iterable[str]) -> list[str]:
    """Short forms of stored buyer names: "City of Toronto" from "City of Toronto – Toronto Water",
    "National Defence" and "DND" from "Department of National Defence (DND)"."""
    return list(_buyer_phrases(tuple(buyer_names)))


@functools.lru_cache(maxsize=4)
def _buyer_phrases(buyer_names: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: the action server asks with the same names (one store version) on every search message.
    phrases: set[str] = set()
    for name in buyer_names:
        name = (name or "").strip()
        if not name:
            continue
        head = re.split(r"\s+[–-]\s+", name)[0]
        acronym = re.search(r"\(([A-Z]{2,8})\s*\)", head)
        base = re.sub(r"\s*\([^)]*\)\s*", " ", head).strip()
        phrases.add(base)
        stripped = re.sub(r"^(?:Department of(?: the)?|Office of the|Ministry of(?: the)?)\s+", "", base)
        if stripped != base and len(stripped.split()) >= 2:
            phrases.add(stripped)
        if acronym:
            phrases.add(acronym.group(1))
    return tuple(sorted(phrases))


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=FEED_TIMEZONE)


def _start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=FEED_TIMEZONE)


def keyword_text(text: str, removed_spans: Iterable[tuple[int, int]]) -> str:
    """The words of `text` left for full-text search: entity spans cut out, filler words dropped."""
    spans = sorted(removed_spans)
    kept: list[str] = []
    cursor = 0
    pieces = []
    for start, end in spans:
        if start >= cursor:
            pieces.append(text[cursor:start])
            cursor = end
        else:
            cursor = max(cursor, end)
    pieces.append(text[cursor:])
    for word in _WORD_RE.findall(" ".join(pieces)):
        clean = word.strip("'’-").lower()
        if not clean or clean in FILLER_WORDS or clean.replace("’", "'") in FILLER_WORDS or clean.isdigit():
            continue
        if clean not in kept:
            kept.append(clean)
    return " ".join(kept)


def _is_ceiling(text: str, start: int) -> bool:
    before = text[max(0, start - 20):start].lower()
    return any(re.search(rf"\b{re.escape(w)}\s*\$?\s*$", before) for w in CEILING_WORDS)


def understand(text: str, entities: Sequence[dict[str, Any]], now: dt.datetime, *,
               topics: Sequence[TopicCodes] = (), known_buyers: Iterable[str] = (),
               page_size: int = PAGE_SIZE) -> SearchRequest:
    """A SearchQuery for a search message, built from the spaCy entities (Rasa entity dicts) and the text."""
    text = text or ""
    today = now.astimezone(FEED_TIMEZONE).date()
    query = SearchQuery(limit=page_size)
    request = SearchRequest(query=query)
    removed: list[tuple[int, int]] = []

    buyer, buyer_span = find_buyer(text, known_buyers)
    if buyer_span:
        query.buyer = buyer
        removed.append(buyer_span)
        request.filters.append(f"buyer: {buyer}")

    prefixes, topic_spans, topic_ids = find_topic_codes(text, topics)
    if prefixes:
        query.unspsc_prefixes = prefixes
        removed.extend(topic_spans)
        request.filters.append("topic: " + ", ".join(t.replace("_", " ") for t in topic_ids))

    regions: list[str] = []
    categories: list[str] = []
    buyer_types: list[str] = []
    for entity in entities:
        name = entity.get("entity")
        if name not in _ENTITIES_USED:
            continue
        start, end, value = entity.get("start"), entity.get("end"), entity.get("value")
        span = (start, end) if isinstance(start, int) and isinstance(end, int) else None
        if span and buyer_span and buyer_span[0] <= span[0] and span[1] <= buyer_span[1]:
            continue  # "Toronto" inside "City of Toronto" is the buyer, not a region filter
        surface = text[span[0]:span[1]].lower() if span else ""
        if name == "region" and value:
            if value not in regions:
                regions.append(str(value))
        elif name == "category" and value:
            store_value = STORE_CATEGORY.get(str(value), str(value))
            if store_value not in categories:
                categories.append(store_value)
            if surface and surface not in GENERIC_CATEGORY_WORDS:
                continue  # a specific term ("web development") is also what to look for
        elif name == "buyer_type" and value:
            if value not in buyer_types:
                buyer_types.append(str(value))
        elif name == "date" and value:
            day = resolve_date(str(value), today)
            if day is None:
                continue
            if entity.get("role") == "after":
                query.closing_after = _start_of_day(day)
            else:
                query.closing_before = _end_of_day(day)
        elif name == "closing_window" and value:
            window = resolve_window(str(value), today)
            if window is None:
                continue
            query.closing_after = _start_of_day(window[0]) if window[0] > today else None
            query.closing_before = _end_of_day(window[1])
        elif name == "amount" and isinstance(value, (int, float)):
            if span and _is_ceiling(text, span[0]):
                query.max_value = float(value)
            else:
                query.min_value = float(value)
        if span:
            removed.append(span)
    query.regions = regions
    query.categories = categories
    query.buyer_types = buyer_types
    query.text = keyword_text(text, removed)
    request.keywords = query.text
    if query.text:
        request.filters.insert(0, f"words: {query.text}")
    request.filters += [f"region: {r}" for r in regions] + [f"category: {c}" for c in categories]
    request.filters += [f"buyer type: {b}" for b in buyer_types]
    if query.closing_after or query.closing_before:
        request.filters.append("closing date")
    if query.min_value is not None or query.max_value is not None:
        request.filters.append("value")
    return request


# ---- the query kept in a slot between turns (paging, alerts) -----------------------------------------

_DATETIME_FIELDS = ("closing_after", "closing_before")


def query_to_dict(query: SearchQuery) -> dict[str, Any]:
    """A JSON-safe form of the query (for a slot or an alert subscription)."""
    data = asdict(query)
    for name in _DATETIME_FIELDS:
        data[name] = data[name].isoformat() if data[name] else None
    for name in ("categories", "regions", "buyer_types", "unspsc_prefixes", "sources"):
        data[name] = list(data[name])
    return data


def query_from_dict(data: dict[str, Any] | None) -> SearchQuery | None:
    if not isinstance(data, dict):
        return None
    known = set(SearchQuery.__dataclass_fields__)
    values = {k: v for k, v in data.items() if k in known}
    for name in _DATETIME_FIELDS:
        if values.get(name):
            values[name] = dt.datetime.fromisoformat(values[name])
    return SearchQuery(**values)


def is_empty(query: SearchQuery) -> bool:
    """True when the query says nothing about what to find (no words and no filter)."""
    return not (query.text or query.categories or query.regions or query.buyer or query.buyer_types
                or query.unspsc_prefixes or query.closing_after or query.closing_before
                or query.min_value is not None or query.max_value is not None)


# ---- what a result shows --------------------------------------------------------------------------------

CANADABUYS_NOTICE_URL = "https://canadabuys.canada.ca/en/tender-opportunities/tender-notice/{reference}"


def notice_link(opp: Opportunity) -> str:
    """The notice page: the feed's own link, else CanadaBuys' page for its reference, else a first attachment."""
    if opp.notice_url:
        return opp.notice_url
    if opp.source == "canadabuys" and opp.reference:
        return CANADABUYS_NOTICE_URL.format(reference=opp.reference)
    return opp.attachments[0] if opp.attachments else ""


def notice_ref(opp: Opportunity) -> str:
    """The id a button sends back to explain a notice: "source:reference"."""
    return f"{opp.source}:{opp.reference}"


def split_notice_ref(ref: str) -> tuple[str, str] | None:
    source, sep, reference = (ref or "").partition(":")
    return (source, reference) if sep and source and reference else None


def days_left(closing: dt.datetime, now: dt.datetime) -> int:
    """Whole calendar days from today to the closing day, in Toronto time (0 = closes today)."""
    return (closing.astimezone(FEED_TIMEZONE).date() - now.astimezone(FEED_TIMEZONE).date()).days


def _days_left_label(days: int) -> str:
    if days <= 0:
        return "closes today"
    return "1 day left" if days == 1 else f"{days} days left"


def closing_values(closing: dt.datetime | None, now: dt.datetime) -> dict[str, str]:
    """closing_date ("Mon 2 Feb 2026"), closing_time ("2:00 PM ET") and days_left ("5 days left")."""
    if closing is None:
        return {"closing_date": "not stated", "closing_time": "", "days_left": "check the notice"}
    local = closing.astimezone(FEED_TIMEZONE)
    time_text = local.strftime("%I:%M %p").lstrip("0") + " ET"
    return {
        "closing_date": f"{local.strftime('%a')} {local.day} {local.strftime('%b %Y')}",
        "closing_time": time_text,
        "days_left": _days_left_label(days_left(local, now)),
    }


def result_values(opp: Opportunity, now: dt.datetime, number: int) -> dict[str, Any]:
    """Variables of utter_opportunity_result for one search result."""
    return {
        "number": number,
        "title": opp.title_en or opp.title_fr or opp.reference,
        "buyer": opp.buyer or "buyer not stated",
        "link": notice_link(opp),
        "reference": opp.solicitation_number or opp.reference,
        "notice_ref": notice_ref(opp),
        **closing_values(opp.closing, now),
    }


def page_values(total: int, capped: bool, offset: int, shown: int) -> dict[str, Any]:
    return {"first": offset + 1, "last": offset + shown, "total": f"{total}+" if capped else str(total)}


def has_more(total: int, offset: int, shown: int) -> bool:
    return offset + shown < total


# ---- explaining a notice -----------------------------------------------------------------------------------

_SET_ASIDE_RE = re.compile(r"[^.\n]*\b(?:set[- ]aside|PSIB|Procurement Strategy for Indigenous Business|"
                           r"Indigenous business(?:es)?)\b[^.\n]*", re.IGNORECASE)
_SECURITY_RE = re.compile(r"[^.\n]*\b(?:security (?:clearance|requirement)s?|reliability status|"
                          r"(?:secret|top secret) (?:clearance|level)|designated organization screening|"
                          r"facility security clearance|Contract Security Program)\b[^.\n]*", re.IGNORECASE)


def _excerpt(pattern: re.Pattern[str], text: str, limit: int = 240) -> str:
    match = pattern.search(text or "")
    if not match:
        return ""
    sentence = " ".join(match.group(0).split())
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _first_sentences(text: str, limit: int = 320) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind(". ")
    return (cut[: end + 1] if end > 80 else cut.rstrip() + "…")


def _short_agreement(name: str) -> str:
    acronym = re.search(r"\(([^)]+)\)\s*$", name)
    return acronym.group(1).strip() if acronym else name


def explain_values(opp: Opportunity, now: dt.datetime, no_description: str = "") -> dict[str, Any]:
    """Variables of the explain-a-notice responses, plus which optional parts the notice mentions.

    `no_description` is what to say when the notice has none: the domain's utter_notice_no_description.
    """
    what_items = list(dict.fromkeys(opp.unspsc_descriptions or opp.gsin_descriptions))[:3]
    description = _first_sentences(opp.description_en or opp.description_fr)
    text = " ".join([opp.title_en, opp.description_en, opp.description_fr])
    agreements = [_short_agreement(a) for a in opp.trade_agreements]
    return {
        "title": opp.title_en or opp.title_fr or opp.reference,
        "buyer": opp.buyer or "buyer not stated",
        "category": ", ".join(opp.category) or "not stated",
        "what_items": "; ".join(what_items) or "see the description",
        "description": description or no_description,
        "agreements": ", ".join(agreements),
        "agreement_count": len(agreements),
        "set_aside": _excerpt(_SET_ASIDE_RE, text),
        "security": _excerpt(_SECURITY_RE, text),
        "method": opp.method or "not stated",
        "notice_type": opp.notice_type or "notice",
        "contact": opp.contact.name or "the contracting contact",
        "contact_email": opp.contact.email or "see the notice",
        "link": notice_link(opp),
        "reference": opp.solicitation_number or opp.reference,
        "amended": bool(opp.amendment_number and opp.amendment_number.strip("0")),
        **closing_values(opp.closing, now),
    }
