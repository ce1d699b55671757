"""CanadaBuys tender notice CSVs (new, open or complete tender notices; all share one 67-column header).

Columns are found by the English key before the first hyphen plus the -eng/-fra suffix, not by the full
header, because the published header is not stable in its French half (for instance
`contractingEntityName-nomEntitContractante-eng`, with "Entit" misspelled).
"""
from __future__ import annotations

import re
from typing import Iterator, TextIO

from bot.opportunities.model import (
    Contact,
    FeedFormatError,
    Opportunity,
    RowError,
    clean,
    clean_text,
    normalize_regions,
    parse_closing,
    parse_date,
    split_multi,
)
from bot.opportunities.sources.csvrows import CsvRecords, header_key

FORMAT = "canadabuys"

_LANGS = {"eng": "en", "en": "en", "fra": "fr", "fr": "fr"}

CATEGORY_CODES = {
    "GD": "goods",
    "SRV": "services",
    "CNST": "construction",
    "SRVTGD": "services",  # services related to goods
}

REQUIRED = (("title", "en"), ("referencenumber", None), ("tenderclosingdate", None))


def column_index(header: list[str]) -> dict[tuple[str, str | None], int]:
    """Map (english key, language or None) to the column position."""
    index: dict[tuple[str, str | None], int] = {}
    for position, name in enumerate(header):
        parts = [p for p in name.strip().lstrip("\ufeff").split("-") if p]
        if not parts:
            continue
        lang = _LANGS.get(parts[-1].lower()) if len(parts) > 1 else None
        index.setdefault((header_key(parts[0]), lang), position)
    return index


_URL_SPLIT = re.compile(r",(?=\s*https?://)")


def _attachments(cell: str) -> list[str]:
    urls = []
    for line in _multi(cell):
        urls.extend(u.strip() for u in _URL_SPLIT.split(line) if u.strip())
    return urls


def parse(stream: TextIO, *, source: str = "canadabuys", **_options) -> Iterator[Opportunity | RowError]:
    """Parse a CanadaBuys tender-notice CSV into Opportunities (federal buyers)."""
    records = CsvRecords(stream)
    index = column_index(records.header)
    missing = [key for key, lang in REQUIRED if (key, lang) not in index and (key, None) not in index]
    if missing:
        raise FeedFormatError("CanadaBuys feed lacks required column(s): " + ", ".join(missing))
    # Each (key, language) the record reads is resolved to its column once per feed, not once per cell; a
    # column the feed lacks reads as "" (position -1, the blank cell appended to every record below).
    positions: dict[tuple[str, str | None], int] = {}

    def position(key: str, lang: str | None) -> int:
        found = index.get((key, lang))
        if found is None and lang is None:
            found = index.get((key, "en"))
        return found if found is not None else -1

    for item in records:
        if isinstance(item, RowError):
            yield item
            continue
        line, cells = item
        cells.append("")

        def cell(key: str, lang: str | None = None) -> str:
            try:
                return cells[positions[key, lang]]
            except KeyError:
                positions[key, lang] = position(key, lang)
                return cells[positions[key, lang]]

        try:
            yield _record(cell, source)
        except ValueError as exc:
            yield RowError(line, str(exc))


def _multi(cell: str) -> list[str]:
    """split_multi, with a short cut for the usual empty or single-line cell (same result)."""
    if not cell:
        return []
    if "\n" in cell or "\r" in cell:
        return split_multi(cell)
    value = cell.strip()
    if value.startswith("*"):
        value = value[1:].strip()
    return [value] if value else []


def _record(cell, source: str) -> Opportunity:
    reference = clean(cell("referencenumber"))
    if not reference:
        raise ValueError("empty referenceNumber")
    title_en = clean(cell("title", "en"))
    title_fr = clean(cell("title", "fr"))
    if not (title_en or title_fr):
        raise ValueError(f"{reference}: no title")
    closing = parse_closing(cell("tenderclosingdate"))
    regions = normalize_regions(
        _multi(cell("regionsofopportunity", "en")) + _multi(cell("regionsofdelivery", "en"))
    )
    categories = []
    for code in _multi(cell("procurementcategory")):
        name = CATEGORY_CODES.get(code.upper(), code.lower())
        if name not in categories:
            categories.append(name)
    return Opportunity(
        source=source,
        reference=reference,
        solicitation_number=clean(cell("solicitationnumber")),
        title_en=title_en or title_fr,
        title_fr=title_fr,
        description_en=clean_text(cell("tenderdescription", "en")),
        description_fr=clean_text(cell("tenderdescription", "fr")),
        buyer=clean(cell("contractingentityname", "en")) or clean(cell("contractingentityname", "fr")),
        buyer_type="federal",
        category=categories,
        unspsc=_multi(cell("unspsc")),
        unspsc_descriptions=_multi(cell("unspscdescription", "en")),
        gsin=_multi(cell("gsin")),
        gsin_descriptions=_multi(cell("gsindescription", "en")),
        regions=regions,
        notice_type=clean(cell("noticetype", "en")),
        method=clean(cell("procurementmethod", "en")),
        trade_agreements=_multi(cell("tradeagreements", "en")),
        published=parse_date(cell("publicationdate")),
        closing=closing,
        status=clean(cell("tenderstatus", "en")).lower(),
        contact=Contact(
            name=clean(cell("contactinfoname")),
            email=clean(cell("contactinfoemail")),
            phone=clean(cell("contactinfophone")),
        ),
        notice_url=clean(cell("noticeurl", "en")),
        attachments=_attachments(cell("attachment", "en")),
        amendment_number=clean(cell("amendmentnumber")),
    )
