"""City of Toronto "All Solicitations" CSV (Toronto Open Data datastore dump of tobids-all-open-solicitations).

The feed has no title column and no per-notice link; the title is the start of the description. Deadlines are
bare dates, read as the end of that day in Toronto. Despite its name the dataset keeps closed solicitations
back to 2008, so search must filter on the deadline.
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
    parse_closing,
    parse_date,
)
from bot.opportunities.sources.csvrows import CsvRecords, header_key

FORMAT = "toronto"
BUYER = "City of Toronto"

CATEGORIES = {
    "constructionservices": ["construction"],
    "goodsandservices": ["goods", "services"],
    "professionalservices": ["services"],
    "offertopurchase": ["offer to purchase"],
}

COLUMNS = {
    "id": "id",
    "reference": "documentnumber",
    "rfx_type": "rfxsolicitationtype",
    "noip_type": "noipnoticeofintendedprocurementtype",
    "issued": "issuedate",
    "deadline": "submissiondeadline",
    "category": "highlevelcategory",
    "description": "solicitationdocumentdescription",
    "division": "division",
    "buyer_name": "buyername",
    "buyer_email": "buyeremail",
    "buyer_phone": "buyerphonenumber",
    "wards": "wards",
}
REQUIRED = ("reference", "deadline", "description")

_TITLE_MAX = 140


def make_title(description: str, division: str, category: str) -> str:
    """A short title from the description's first sentence (the feed has none)."""
    text = re.sub(r"^\s*for\s*:\s*", "", description, flags=re.I)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return " – ".join(p for p in (division, category) if p) or "Solicitation"
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    if len(sentence) > _TITLE_MAX:
        sentence = sentence[:_TITLE_MAX].rsplit(" ", 1)[0] + "…"
    return sentence


def parse(stream: TextIO, *, source: str = "toronto", **_options) -> Iterator[Opportunity | RowError]:
    """Parse Toronto's solicitations CSV into Opportunities (municipal buyer)."""
    records = CsvRecords(stream)
    keys = {header_key(name): i for i, name in enumerate(records.header)}
    index = {field: keys.get(key) for field, key in COLUMNS.items()}
    missing = [COLUMNS[f] for f in REQUIRED if index[f] is None]
    if missing:
        raise FeedFormatError("Toronto feed lacks required column(s): " + ", ".join(missing))
    for item in records:
        if isinstance(item, RowError):
            yield item
            continue
        line, cells = item

        def cell(field: str) -> str:
            position = index[field]
            return cells[position] if position is not None else ""

        try:
            yield _record(cell, source)
        except ValueError as exc:
            yield RowError(line, str(exc))


def _record(cell, source: str) -> Opportunity:
    number = clean(cell("reference"))
    # A few advance notices have no document number yet; the datastore row id keeps them apart.
    reference = number or (f"row-{clean(cell('id'))}" if clean(cell("id")) else "")
    if not reference:
        raise ValueError("no Document Number and no _id")
    description = clean_text(cell("description"))
    division = clean(cell("division"))
    category_label = clean(cell("category"))
    categories = CATEGORIES.get(header_key(category_label.replace("&", "and")), [category_label.lower()] if category_label else [])
    wards = [w.strip() for w in re.split(r",(?=\s*Ward\b)", cell("wards")) if w.strip()]
    return Opportunity(
        source=source,
        reference=reference,
        solicitation_number=number,
        title_en=make_title(description, division, category_label),
        description_en=description,
        buyer=f"{BUYER} – {division}" if division else BUYER,
        buyer_type="municipal",
        category=list(categories),
        regions=["Toronto", "Ontario"] + wards,
        notice_type=clean(cell("noip_type")),
        method=clean(cell("rfx_type")),
        published=parse_date(cell("issued")),
        closing=parse_closing(cell("deadline")),
        contact=Contact(
            name=clean(cell("buyer_name")), email=clean(cell("buyer_email")), phone=clean(cell("buyer_phone"))
        ),
    )
