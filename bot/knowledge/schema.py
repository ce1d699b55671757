"""What a topic and each table row may contain, how each field is checked, and how rows map to SQLite.

The schema is data (`Field` tuples), so the checker, the database layout, the round trip from the database back
to Python values and the staff guide's list of fields all come from one place. `knowledge/README.md` describes
the same shape in prose; a test keeps the two in step.
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from bot.knowledge.yamllines import BadScalar, LineList, line_of, to_plain

# Topic ids become file names and Rasa intent names ("topic_" + id with "-" → "_"), so they may use only
# lower-case letters, digits and single hyphens: an underscore would make the intent name ambiguous.
TOPIC_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Table ids are referenced by other rows (buyer types like `ontario_ministry`), so underscores are allowed.
ROW_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")

JURISDICTIONS = ("ontario", "federal", "municipal", "bps", "general")
AUDIENCES = ("founder", "officer")
EVENT_FORMATS = ("online", "in_person", "hybrid")
MIN_QUESTIONS = 6


@dataclass(frozen=True)
class Field:
    """One field of a record: its name, kind of value, whether it must be present, and kind-specific limits."""

    name: str
    kind: str
    required: bool = True
    choices: tuple[str, ...] = ()
    min_items: int = 0
    minimum: float | None = None


PROVENANCE: tuple[Field, ...] = (
    Field("source", "source"),
    Field("last_reviewed", "date"),
    Field("review_every_days", "int", minimum=1),
)

SOURCE_FIELDS: tuple[Field, ...] = (Field("url", "url"), Field("title", "text"))

STEP_FIELDS: tuple[Field, ...] = (
    Field("id", "id"),
    Field("title", "text"),
    Field("detail", "text"),
    Field("why", "text", required=False),
    Field("url", "url", required=False),
    # Bid-preparation countdowns: suggested timing, counted back from the closing date.
    Field("days_before_close", "int", required=False, minimum=0),
)

TOPIC_FIELDS: tuple[Field, ...] = (
    Field("id", "topic_id"),
    Field("title", "text"),
    Field("jurisdiction", "enum", choices=JURISDICTIONS),
    Field("audience", "enum_list", choices=AUDIENCES, min_items=1),
    Field("questions", "text_list", min_items=MIN_QUESTIONS),
    Field("sources", "sources", min_items=1),
    Field("last_reviewed", "date"),
    Field("review_every_days", "int", minimum=1),
    Field("related", "topic_id_list", required=False),
    Field("tags", "text_list", required=False),
)

_BAND = (
    Field("buyer", "id"),
    Field("category", "id"),
)

TABLE_FIELDS: dict[str, tuple[Field, ...]] = {
    "methods": (
        Field("id", "id"),
        *_BAND,
        Field("min_value", "amount", minimum=0),
        Field("max_value", "amount", required=False, minimum=0),
        Field("method", "text"),
        Field("summary", "text"),
        Field("min_suppliers", "int", required=False, minimum=1),
        Field("posting", "text", required=False),
        Field("effective_date", "date"),
        *PROVENANCE,
    ),
    "trade_agreements": (
        Field("id", "id"),
        Field("agreement", "text"),
        Field("name", "text"),
        *_BAND,
        Field("min_value", "amount", minimum=0),
        Field("effective_date", "date"),
        Field("summary", "text"),
        *PROVENANCE,
    ),
    "preferences": (
        Field("id", "id"),
        Field("name", "text"),
        *_BAND,
        Field("min_value", "amount", minimum=0),
        Field("max_value", "amount", required=False, minimum=0),
        Field("summary", "text"),
        Field("effective_date", "date"),
        *PROVENANCE,
    ),
    "buyer_types": (
        Field("id", "id"),
        Field("name", "text"),
        Field("terms", "text_list", min_items=1),
        Field("summary", "text"),
        *PROVENANCE,
    ),
    "categories": (
        Field("id", "id"),
        Field("name", "text"),
        Field("terms", "text_list", min_items=1),
        Field("summary", "text"),
        *PROVENANCE,
    ),
    "vor_arrangements": (
        Field("id", "id"),
        Field("name", "text"),
        Field("summary", "text"),
        *PROVENANCE,
    ),
    "events": (
        Field("id", "id"),
        Field("title", "text"),
        Field("organizer", "text"),
        Field("starts", "datetime"),
        Field("ends", "datetime"),
        Field("format", "enum", choices=EVENT_FORMATS),
        Field("location", "text"),
        Field("topics", "text_list", required=False),
        Field("registration_url", "url"),
        Field("description", "text"),
        *PROVENANCE,
    ),
    "programs": (
        Field("id", "id"),
        Field("name", "text"),
        Field("jurisdiction", "enum", choices=JURISDICTIONS),
        Field("summary", "text"),
        Field("who_can_apply", "text"),
        Field("url", "url"),
        *PROVENANCE,
    ),
    "checklists": (
        Field("id", "id"),
        Field("title", "text"),
        Field("audience", "id_list", min_items=1),
        Field("steps", "steps", min_items=1),
        *PROVENANCE,
    ),
    "business_size": (
        Field("id", "enum", choices=("micro", "small", "medium")),
        Field("name", "text"),
        Field("min_employees", "int", minimum=0),
        Field("max_employees", "int", minimum=0),
        Field("summary", "text"),
        *PROVENANCE,
    ),
    "search_categories": (
        Field("id", "id"),
        Field("terms", "text_list", min_items=1),
        Field("unspsc_prefixes", "text_list", min_items=1),
        *PROVENANCE,
    ),
    "vor_readiness": (
        Field("id", "id"),
        Field("requirement", "text"),
        Field("kind", "enum", choices=("route", "blocking", "preparable")),
        Field("applies", "enum", choices=("always", "if_relevant")),
        Field("summary", "text"),
        Field("next_step", "text"),
        Field("url", "url", required=False),
        *PROVENANCE,
    ),
    "glossary": (
        Field("term", "text"),
        Field("expansion", "text", required=False),
        Field("definition", "text"),
        *PROVENANCE,
    ),
}

# The file where staff are told to keep each table (any table file may hold any table, but each table once).
TABLE_FILES: dict[str, str] = {
    "methods": "tables/thresholds.yml",
    "trade_agreements": "tables/thresholds.yml",
    "preferences": "tables/thresholds.yml",
    "buyer_types": "tables/buyer_types.yml",
    "categories": "tables/categories.yml",
    "vor_arrangements": "tables/vor_arrangements.yml",
    "events": "tables/events.yml",
    "programs": "tables/programs.yml",
    "checklists": "tables/checklists.yml",
    "business_size": "tables/business_size.yml",
    "glossary": "tables/glossary.yml",
    "search_categories": "tables/search_categories.yml",
    "vor_readiness": "tables/vor_readiness.yml",
}


def key_field(table: str) -> str:
    """The field that identifies a row of `table` (unique within the table)."""
    return "term" if table == "glossary" else "id"


# ---------------------------------------------------------------------------------------------------------
# Checking one record


@dataclass
class Issue:
    """A schema problem in one record, before it is given a file path (the loader adds that)."""

    line: int
    message: str


Checker = Callable[[Any, Field, int, list[Issue], str], Any]

_MISSING = object()


def check_record(
    record: Any, fields: Sequence[Field], *, label: str, line: int, issues: list[Issue]
) -> dict[str, Any] | None:
    """Check `record` against `fields`; return its plain values (optional fields missing → None) or None.

    Returns None only when the record is not a mapping at all. A field with a wrong value is reported in
    `issues` and comes back as None, so later cross-checks can still use the rest of the record.
    """
    if not isinstance(record, Mapping):
        issues.append(Issue(line, f"{label}: expected a mapping of fields (name: value), found {_describe(record)}"))
        return None
    line = line_of(record, line)
    known = {f.name for f in fields}
    for key in record:
        if key not in known:
            hint = difflib.get_close_matches(str(key), sorted(known), n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f" (allowed: {', '.join(sorted(known))})"
            issues.append(Issue(_key_line(record, key, line), f"{label}: unknown field '{key}'{suggestion}"))
    values: dict[str, Any] = {}
    for field in fields:
        raw = record.get(field.name, _MISSING)
        if raw is _MISSING or raw is None:
            if field.required:
                what = "missing required field" if raw is _MISSING else "empty required field"
                issues.append(Issue(_key_line(record, field.name, line), f"{label}: {what} '{field.name}'"))
            values[field.name] = None
            continue
        values[field.name] = _CHECKERS[field.kind](raw, field, _key_line(record, field.name, line), issues, label)
    return values


def _key_line(record: Any, key: Any, default: int) -> int:
    key_lines = getattr(record, "key_lines", {})
    return key_lines.get(key, default)


def _describe(value: Any) -> str:
    if isinstance(value, BadScalar):
        return repr(str(value))
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if value is None:
        return "nothing"
    if isinstance(value, dt.date):  # YAML reads an unquoted 2026-11-26 as a date, not text
        return f"the date {value.isoformat()}"
    if isinstance(value, bool):  # YAML reads yes/no/on/off as true/false
        return f"true/false ({value})"
    return f"{type(value).__name__} {to_plain(value)!r}"


def _text(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> str | None:
    if isinstance(value, str) and not isinstance(value, BadScalar) and value.strip():
        return value.strip()
    if isinstance(value, str) and not isinstance(value, BadScalar):
        issues.append(Issue(line, f"{label}: {field.name}: must not be empty"))
    else:
        issues.append(Issue(line, f"{label}: {field.name}: must be text, found {_describe(value)} (put it in quotes)"))
    return None


def _pattern(regex: re.Pattern[str], rule: str) -> Checker:
    def check(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> str | None:
        text = _text(value, field, line, issues, label)
        if text is not None and not regex.match(text):
            issues.append(Issue(line, f"{label}: {field.name}: '{text}' is not a valid id ({rule})"))
            return None
        return text

    return check


_topic_id = _pattern(TOPIC_ID_RE, "lower-case letters, digits and single hyphens, like vor-what-is")
_row_id = _pattern(ROW_ID_RE, "lower-case letters, digits, and single '-' or '_' between words")


def _number(value: Any, field: Field, line: int, issues: list[Issue], label: str, *, whole: bool) -> Any:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        wanted = "a whole number" if whole else "a plain number like 121200 (no $ or commas)"
        issues.append(Issue(line, f"{label}: {field.name}: must be {wanted}, found {_describe(value)}"))
        return None
    if field.minimum is not None and value < field.minimum:
        issues.append(Issue(line, f"{label}: {field.name}: must be at least {field.minimum:g}, found {value}"))
        return None
    return value


def _int(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> int | None:
    return _number(value, field, line, issues, label, whole=True)


def _amount(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> float | int | None:
    return _number(value, field, line, issues, label, whole=False)


def _date(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> dt.date | None:
    if isinstance(value, dt.datetime):
        issues.append(Issue(line, f"{label}: {field.name}: must be a date YYYY-MM-DD without a time"))
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            reason = f" ({value.reason})" if isinstance(value, BadScalar) and value.reason else ""
            issues.append(Issue(line, f"{label}: {field.name}: '{value}' is not a valid date YYYY-MM-DD{reason}"))
            return None
    issues.append(Issue(line, f"{label}: {field.name}: must be a date YYYY-MM-DD, found {_describe(value)}"))
    return None


def _datetime(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> dt.datetime | None:
    parsed: Any = value
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            reason = f" ({value.reason})" if isinstance(value, BadScalar) and value.reason else ""
            issues.append(Issue(line, f"{label}: {field.name}: '{value}' is not a valid date-time{reason}; "
                                      "write it like 2027-01-14T10:00:00-05:00"))
            return None
    if not isinstance(parsed, dt.datetime):
        issues.append(Issue(line, f"{label}: {field.name}: needs a date, a time and a time zone, "
                                  "like 2027-01-14T10:00:00-05:00"))
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        issues.append(Issue(line, f"{label}: {field.name}: {parsed.isoformat()} has no time zone; "
                                  "add one, like -05:00 for Toronto in winter"))
        return None
    return parsed


def url_problem(url: str) -> str | None:
    """Why `url` is not a usable web link (http/https with a host name), or None when it is fine."""
    if any(ch.isspace() for ch in url):
        return "contains spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        return f"cannot be read ({error})"
    if parts.scheme not in ("http", "https"):
        return "must start with https:// or http://"
    host = parts.hostname or ""
    if not host:
        return "has no host name"
    if "." not in host and host != "localhost":
        return f"host '{host}' does not look like a domain name"
    return None


def _url(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> str | None:
    text = _text(value, field, line, issues, label)
    if text is None:
        return None
    problem = url_problem(text)
    if problem:
        issues.append(Issue(line, f"{label}: {field.name}: '{text}' is not a valid URL: {problem}"))
        return None
    return text


def _enum(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> str | None:
    if isinstance(value, str) and value.strip() in field.choices:
        return value.strip()
    issues.append(Issue(line, f"{label}: {field.name}: {_describe(value)} is not one of: {', '.join(field.choices)}"))
    return None


def _list(item_checker: Checker, *, records: bool = False) -> Checker:
    def check(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> list[Any] | None:
        if isinstance(value, str) and not records:
            # A single value where a list was expected is a common slip; accept it as a one-item list.
            value = LineList([value], line=line, item_lines=[line])
        if not isinstance(value, list):
            issues.append(Issue(line, f"{label}: {field.name}: must be a list, found {_describe(value)}"))
            return None
        item_lines = getattr(value, "item_lines", [])
        items = []
        for index, item in enumerate(value):
            item_line = item_lines[index] if index < len(item_lines) else line
            # Records (sources, steps) are named by position so a message points at the right one.
            item_label = f"{label}: {field.name}[{index + 1}]" if records else label
            checked = item_checker(item, field, item_line, issues, item_label)
            if checked is not None:
                items.append(checked)
        if len(value) < field.min_items:
            issues.append(Issue(line, f"{label}: {field.name}: needs at least {field.min_items}, found {len(value)}"))
        return items

    return check


def _source_item(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> dict[str, Any] | None:
    return check_record(value, SOURCE_FIELDS, label=label, line=line, issues=issues)


def _source(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> dict[str, Any] | None:
    return check_record(value, SOURCE_FIELDS, label=f"{label}: {field.name}", line=line, issues=issues)


def _step(value: Any, field: Field, line: int, issues: list[Issue], label: str) -> dict[str, Any] | None:
    return check_record(value, STEP_FIELDS, label=label, line=line, issues=issues)


_CHECKERS: dict[str, Checker] = {
    "text": _text,
    "topic_id": _topic_id,
    "id": _row_id,
    "int": _int,
    "amount": _amount,
    "date": _date,
    "datetime": _datetime,
    "url": _url,
    "enum": _enum,
    "enum_list": _list(_enum),
    "text_list": _list(_text),
    "topic_id_list": _list(_topic_id),
    "id_list": _list(_row_id),
    "source": _source,
    "sources": _list(_source_item, records=True),
    "steps": _list(_step, records=True),
}


# ---------------------------------------------------------------------------------------------------------
# Rows in SQLite: the database layout and the round trip back to the same Python values as the loader's.

_COLUMN_TYPES: dict[str, type] = {
    "text": str, "topic_id": str, "id": str, "enum": str, "url": str, "date": str, "datetime": str,
    # INTEGER affinity keeps whole amounts as ints and still stores 1.5 as a real: no 121200 → 121200.0.
    "int": int, "amount": int,
}

CHILD_TABLES = {"checklists": ("steps", "checklist_steps")}


def step_column_types() -> dict[str, type]:
    """Column name → Python type for the checklist_steps table."""
    return {"checklist_id": str, "position": int, **{f.name: _COLUMN_TYPES.get(f.kind, str) for f in STEP_FIELDS}}


def column_types(table: str) -> dict[str, type]:
    """Column name → Python type for creating `table` (lists as JSON text, `source` as two columns)."""
    columns: dict[str, type] = {}
    for field in TABLE_FIELDS[table]:
        if field.kind == "source":
            columns["source_url"] = str
            columns["source_title"] = str
        elif field.kind == "steps":
            columns["step_count"] = int
        else:
            columns[field.name] = _COLUMN_TYPES.get(field.kind, str)
    return columns


def encode_row(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A loaded row as a SQLite row: dates as ISO text, lists as JSON, `source` split in url and title."""
    encoded: dict[str, Any] = {}
    for field in TABLE_FIELDS[table]:
        value = row.get(field.name)
        if field.kind == "source":
            encoded["source_url"] = (value or {}).get("url")
            encoded["source_title"] = (value or {}).get("title")
        elif field.kind == "steps":
            encoded["step_count"] = len(value or [])
        else:
            encoded[field.name] = encode_value(field.kind, value)
    return encoded


def encode_value(kind: str, value: Any) -> Any:
    """One loaded value in its SQLite form."""
    if value is None:
        return None
    if kind in ("date", "datetime"):
        return value.isoformat()
    if kind.endswith("_list") or kind == "sources":
        return json.dumps(value, ensure_ascii=False)
    return value


def decode_row(table: str, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `encode_row` (child rows such as checklist steps are attached by the caller)."""
    row: dict[str, Any] = {}
    for field in TABLE_FIELDS[table]:
        if field.kind == "source":
            row["source"] = {"url": stored.get("source_url"), "title": stored.get("source_title")}
        elif field.kind == "steps":
            row["steps"] = []
        else:
            row[field.name] = decode_value(field.kind, stored.get(field.name))
    return row


def decode_value(kind: str, value: Any) -> Any:
    """One SQLite value back in its loaded form."""
    if value is None:
        return None
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind.endswith("_list") or kind == "sources":
        return json.loads(value)
    return value


def plain_steps(steps: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Checklist steps with every step field present (optional ones as None), in file order."""
    return [{f.name: step.get(f.name) for f in STEP_FIELDS} for step in steps or []]
