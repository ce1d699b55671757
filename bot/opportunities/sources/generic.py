"""Any CSV or JSON feed, read through a column mapping kept in a small YAML file under feeds/.

Staff add a municipal or broader-public-sector feed by writing a mapping, not code. The mapping's keys:

    format: csv                 # csv | json | jsonl
    records: result.records     # json only: dotted path to the list of records (empty = the document itself)
    list_separator: ";"         # splits list-valued columns; `*`-prefixed lines are always split
    defaults:                   # values for fields the feed lacks
      buyer: City of Ottawa
      buyer_type: municipal     # federal | municipal | bps | ontario_ministry | unknown
      regions: [Ottawa, Ontario]
    columns:                    # Opportunity field: the feed's column (or JSON key)
      reference: Bid Number     # required
      title_en: Title           # required (title_en or title_fr)
      closing: Closing Date     # required
      description_en: Description
    category_map:               # feed's category values -> goods | services | construction | ...
      Goods: goods

A `json` feed is read whole (bounded by the fetch size limit); `csv` and `jsonl` stream row by row.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

import yaml

from bot.opportunities.model import (
    BUYER_TYPES,
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

FORMAT = "generic"

TEXT_FIELDS = (
    "reference", "solicitation_number", "title_en", "title_fr", "buyer", "buyer_type", "notice_type", "method",
    "status", "notice_url", "amendment_number", "contact_name", "contact_email", "contact_phone",
)
LONG_TEXT_FIELDS = ("description_en", "description_fr")
LIST_FIELDS = (
    "category", "unspsc", "unspsc_descriptions", "gsin", "gsin_descriptions", "regions", "trade_agreements",
    "attachments",
)
OTHER_FIELDS = ("published", "closing", "min_value", "max_value")
FIELDS = TEXT_FIELDS + LONG_TEXT_FIELDS + LIST_FIELDS + OTHER_FIELDS


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the problem."""


@dataclass
class Mapping:
    columns: dict[str, str]
    format: str = "csv"
    records: str = ""
    list_separator: str = ";"
    defaults: dict[str, Any] = field(default_factory=dict)
    category_map: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict, origin: str = "mapping") -> "Mapping":
        if not isinstance(data, dict):
            raise MappingError(f"{origin}: expected a YAML mapping at the top level")
        unknown = set(data) - {"format", "records", "list_separator", "defaults", "columns", "category_map"}
        if unknown:
            raise MappingError(f"{origin}: unknown key(s) {', '.join(sorted(unknown))}")
        columns = data.get("columns") or {}
        if not isinstance(columns, dict):
            raise MappingError(f"{origin}: 'columns' must map field names to column names")
        defaults = data.get("defaults") or {}
        bad = [name for name in list(columns) + list(defaults) if name not in FIELDS]
        if bad:
            raise MappingError(f"{origin}: unknown field(s) {', '.join(bad)}; known: {', '.join(FIELDS)}")
        for required in ("reference", "closing"):
            if required not in columns:
                raise MappingError(f"{origin}: columns must map '{required}'")
        if "title_en" not in columns and "title_fr" not in columns:
            raise MappingError(f"{origin}: columns must map 'title_en' or 'title_fr'")
        fmt = str(data.get("format", "csv")).lower()
        if fmt not in ("csv", "json", "jsonl"):
            raise MappingError(f"{origin}: format must be csv, json or jsonl, not {fmt!r}")
        buyer_type = defaults.get("buyer_type", "unknown")
        if buyer_type not in BUYER_TYPES:
            raise MappingError(f"{origin}: buyer_type must be one of {', '.join(BUYER_TYPES)}")
        return cls(
            columns={str(k): str(v) for k, v in columns.items()},
            format=fmt,
            records=str(data.get("records") or ""),
            list_separator=str(data.get("list_separator", ";")),
            defaults=dict(defaults),
            category_map={str(k).strip().lower(): str(v) for k, v in (data.get("category_map") or {}).items()},
        )


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: {exc}") from None
    return Mapping.from_dict(data, origin=str(path))


def parse(
    stream: TextIO, *, source: str = "generic", mapping: Mapping | dict | str | Path | None = None, **_options
) -> Iterator[Opportunity | RowError]:
    """Parse a CSV/JSON feed through `mapping` (a Mapping, a dict as in the YAML, or a YAML file path)."""
    if mapping is None:
        raise MappingError("the generic format needs a mapping (--mapping FILE)")
    if isinstance(mapping, (str, Path)):
        mapping = load_mapping(mapping)
    elif isinstance(mapping, dict):
        mapping = Mapping.from_dict(mapping)
    if mapping.format == "csv":
        rows = _csv_rows(stream, mapping)
    elif mapping.format == "jsonl":
        rows = _jsonl_rows(stream)
    else:
        rows = _json_rows(stream, mapping)
    for item in rows:
        if isinstance(item, RowError):
            yield item
            continue
        line, get = item
        try:
            yield _record(get, mapping, source)
        except (ValueError, TypeError) as exc:
            yield RowError(line, str(exc))


def _csv_rows(stream: TextIO, mapping: Mapping):
    records = CsvRecords(stream)
    keys = {header_key(name): i for i, name in enumerate(records.header)}
    index = {fld: keys.get(header_key(col)) for fld, col in mapping.columns.items()}
    required = ["reference", "closing"] + [t for t in ("title_en", "title_fr") if t in mapping.columns]
    missing = [mapping.columns[f] for f in required if index.get(f) is None]
    if missing:
        raise FeedFormatError("feed lacks mapped column(s): " + ", ".join(missing))
    for item in records:
        if isinstance(item, RowError):
            yield item
            continue
        line, cells = item
        yield line, (lambda fld, cells=cells: cells[index[fld]] if index.get(fld) is not None else None)


def _jsonl_rows(stream: TextIO):
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RowError(number, f"invalid JSON: {exc.msg}")
            continue
        if not isinstance(obj, dict):
            yield RowError(number, "a JSON line must hold an object")
            continue
        yield number, obj


def _json_rows(stream: TextIO, mapping: Mapping):
    try:
        document = json.load(stream)
    except json.JSONDecodeError as exc:
        raise FeedFormatError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    node = document
    for part in [p for p in mapping.records.split(".") if p]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, list):
        raise FeedFormatError(f"no list of records at {mapping.records or 'the top level'}")
    for number, obj in enumerate(node, start=1):
        if not isinstance(obj, dict):
            yield RowError(number, f"record {number} is not an object")
            continue
        yield number, obj


def _value(get, mapping: Mapping, fld: str):
    """The feed's value for a field, or the mapping default when the feed has none.

    `get` is a JSON object (dict) or, for CSV, a function from field name to cell.
    """
    if isinstance(get, dict):
        column = mapping.columns.get(fld)
        value = _dig(get, column) if column else None
    else:
        value = get(fld) if fld in mapping.columns else None
    if value is None or (isinstance(value, str) and not value.strip()):
        value = mapping.defaults.get(fld)
    return value


def _dig(obj: dict, column: str):
    if column in obj:
        return obj[column]
    node: Any = obj
    for part in column.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _as_list(value, separator: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value)
    if "*" in text or "\n" in text:
        parts = split_multi(text)
    else:
        parts = [text]
    out: list[str] = []
    for part in parts:
        out.extend(p.strip() for p in (part.split(separator) if separator else [part]) if p.strip())
    return out


def _number(value) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace("$", "").replace(",", "").replace(" ", "").strip()
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"not a number: {value!r}") from None


def _record(get, mapping: Mapping, source: str) -> Opportunity:
    def text(fld: str) -> str:
        value = _value(get, mapping, fld)
        return clean(str(value)) if value is not None else ""

    reference = text("reference")
    if not reference:
        raise ValueError("empty reference")
    title_en, title_fr = text("title_en"), text("title_fr")
    if not (title_en or title_fr):
        raise ValueError(f"{reference}: no title")
    lists = {fld: _as_list(_value(get, mapping, fld), mapping.list_separator) for fld in LIST_FIELDS}
    categories: list[str] = []
    for label in lists["category"]:
        name = mapping.category_map.get(label.lower(), label.lower())
        if name not in categories:
            categories.append(name)
    buyer_type = text("buyer_type") or "unknown"
    if buyer_type not in BUYER_TYPES:
        buyer_type = "unknown"
    closing_value = _value(get, mapping, "closing")
    published_value = _value(get, mapping, "published")
    return Opportunity(
        source=source,
        reference=reference,
        solicitation_number=text("solicitation_number"),
        title_en=title_en or title_fr,
        title_fr=title_fr,
        description_en=clean_text(str(_value(get, mapping, "description_en") or "")),
        description_fr=clean_text(str(_value(get, mapping, "description_fr") or "")),
        buyer=text("buyer"),
        buyer_type=buyer_type,
        category=categories,
        unspsc=lists["unspsc"],
        unspsc_descriptions=lists["unspsc_descriptions"],
        gsin=lists["gsin"],
        gsin_descriptions=lists["gsin_descriptions"],
        regions=normalize_regions(lists["regions"]),
        notice_type=text("notice_type"),
        method=text("method"),
        trade_agreements=lists["trade_agreements"],
        published=parse_date(str(published_value)) if published_value else None,
        closing=parse_closing(str(closing_value)) if closing_value else None,
        status=text("status").lower(),
        contact=Contact(name=text("contact_name"), email=text("contact_email"), phone=text("contact_phone")),
        notice_url=text("notice_url"),
        attachments=lists["attachments"],
        amendment_number=text("amendment_number"),
        min_value=_number(_value(get, mapping, "min_value")),
        max_value=_number(_value(get, mapping, "max_value")),
    )
