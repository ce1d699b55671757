"""The normalized opportunity record every source format is turned into, and the parse-error record."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from zoneinfo import ZoneInfo

# Canadian procurement feeds give local wall-clock times without a zone; the federal and Ontario
# notices mean Eastern time (CanadaBuys states "Eastern Time" on every notice).
FEED_TIMEZONE = ZoneInfo("America/Toronto")

BUYER_TYPES = ("federal", "municipal", "bps", "ontario_ministry", "unknown")


@dataclass
class Contact:
    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass
class Opportunity:
    """One tender notice, whatever feed it came from. Lists are never None; unknown scalars are ""/None."""

    source: str
    reference: str
    title_en: str
    closing: dt.datetime | None  # timezone-aware
    solicitation_number: str = ""
    title_fr: str = ""
    description_en: str = ""
    description_fr: str = ""
    buyer: str = ""
    buyer_type: str = "unknown"
    category: list[str] = field(default_factory=list)  # goods | services | construction | ...
    unspsc: list[str] = field(default_factory=list)
    unspsc_descriptions: list[str] = field(default_factory=list)
    gsin: list[str] = field(default_factory=list)
    gsin_descriptions: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    notice_type: str = ""
    method: str = ""
    trade_agreements: list[str] = field(default_factory=list)
    published: dt.date | None = None
    status: str = ""
    contact: Contact = field(default_factory=Contact)
    notice_url: str = ""
    attachments: list[str] = field(default_factory=list)
    amendment_number: str = ""
    min_value: float | None = None
    max_value: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RowError:
    """A feed row that could not be turned into an Opportunity; `line` is the 1-based line where it starts."""

    line: int
    message: str


class FeedFormatError(ValueError):
    """The feed as a whole is unusable (wrong format, required column missing); nothing of it is loaded."""


# ---- normalizers shared by the source modules -------------------------------------------------

def split_multi(cell: str | None) -> list[str]:
    """Values of a multi-valued cell: `*`-prefixed lines (CanadaBuys), else one value per line."""
    if not cell:
        return []
    values = []
    for line in cell.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.strip()
        if line.startswith("*"):
            line = line[1:].strip()
        if line:
            values.append(line)
    return values


def clean(cell: str | None) -> str:
    return (cell or "").strip()


def clean_text(cell: str | None) -> str:
    """Free text with line ends made uniform (feeds mix CRLF and LF inside one cell)."""
    return clean(cell).replace("\r\n", "\n").replace("\r", "\n")


_DATE_RE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")


def parse_date(value: str | None) -> dt.date | None:
    """A YYYY-MM-DD date (anything after the day is ignored); None when empty. Raises ValueError if malformed."""
    value = clean(value)
    if not value:
        return None
    match = _DATE_RE.match(value)
    if not match:
        raise ValueError(f"not a date: {value!r}")
    return dt.date(int(match[1]), int(match[2]), int(match[3]))


def parse_closing(value: str | None, *, date_only_time: dt.time = dt.time(23, 59, 59)) -> dt.datetime | None:
    """A closing date-time made timezone-aware.

    Times without a zone are America/Toronto wall-clock times. A bare date means the end of that day in Toronto,
    so a notice whose feed gives no hour stays open for the whole of its last day.
    """
    value = clean(value)
    if not value:
        return None
    text = value.replace(" ", "T", 1) if len(value) > 10 and value[10] == " " else value
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, date_only_time, tzinfo=FEED_TIMEZONE)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date-time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=FEED_TIMEZONE)
    return moment


_PROVINCES = {
    "on": "Ontario", "ont": "Ontario", "ontario": "Ontario",
    "qc": "Quebec", "que": "Quebec", "quebec": "Quebec", "québec": "Quebec", "pq": "Quebec",
    "bc": "British Columbia", "c.-b": "British Columbia", "c.-b.": "British Columbia",
    "british columbia": "British Columbia", "colombie-britannique": "British Columbia",
    "ab": "Alberta", "alberta": "Alberta",
    "sk": "Saskatchewan", "saskatchewan": "Saskatchewan",
    "mb": "Manitoba", "manitoba": "Manitoba",
    "nb": "New Brunswick", "new brunswick": "New Brunswick", "nouveau-brunswick": "New Brunswick",
    "ns": "Nova Scotia", "nova scotia": "Nova Scotia", "nouvelle-écosse": "Nova Scotia",
    "pe": "Prince Edward Island", "pei": "Prince Edward Island", "prince edward island": "Prince Edward Island",
    "nl": "Newfoundland and Labrador", "newfoundland and labrador": "Newfoundland and Labrador",
    "yt": "Yukon", "yukon": "Yukon", "nt": "Northwest Territories", "northwest territories": "Northwest Territories",
    "nu": "Nunavut", "nunavut": "Nunavut",
}

# Region labels in the feeds, in English and French, mapped to one spelling. Values that say nothing about
# where ("Unspecified") are dropped.
_REGION_ALIASES = {
    "national capital region (ncr)": "National Capital Region",
    "national capital region": "National Capital Region",
    "ncr": "National Capital Region",
    "région de la capitale nationale (rcn)": "National Capital Region",
    "ontario (except ncr)": "Ontario",
    "ontario (sauf rcn)": "Ontario",
    "quebec (except ncr)": "Quebec",
    "québec (sauf rcn)": "Quebec",
    "canada": "Canada",
    "world": "World",
    "monde": "World",
    "unspecified": "",
    "non spécifiée": "",
    "not applicable": "",
}

# Cities that appear as regions, so a search for the province finds them too.
_CITY_PROVINCE = {
    "ottawa": "Ontario", "toronto": "Ontario", "hamilton": "Ontario", "kingston": "Ontario", "london": "Ontario",
    "sudbury": "Ontario", "thunder bay": "Ontario", "trenton": "Ontario", "petawawa": "Ontario",
    "gatineau": "Quebec", "montreal": "Quebec", "montréal": "Quebec",
    "saskatoon": "Saskatchewan", "regina": "Saskatchewan", "winnipeg": "Manitoba", "halifax": "Nova Scotia",
    "stellarton": "Nova Scotia", "vancouver": "British Columbia", "victoria": "British Columbia",
    "calgary": "Alberta", "edmonton": "Alberta",
}


def normalize_province(value: str | None) -> str:
    """One spelling for a province written as ON, Ontario, Québec, Quebec, C.-B ... ; other text is kept."""
    text = clean(value)
    return _PROVINCES.get(text.lower(), text)


def normalize_regions(values: list[str]) -> list[str]:
    """Normalized, de-duplicated region names in first-seen order; a known city also adds its province."""
    out: list[str] = []

    def add(name: str) -> None:
        if name and name not in out:
            out.append(name)

    for raw in values:
        key = raw.strip().lower()
        if key in _REGION_ALIASES:
            add(_REGION_ALIASES[key])
            continue
        province = _PROVINCES.get(key)
        if province:
            add(province)
            continue
        add(raw.strip())
        if key in _CITY_PROVINCE:
            add(_CITY_PROVINCE[key])
    return out
