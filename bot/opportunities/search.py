"""Search the stored opportunities: full text plus filters, open notices only unless asked otherwise.

User text never reaches FTS5 as syntax: it is cut into word tokens and each is quoted, so quotes, `*`, `NEAR(`,
`OR`, unbalanced parentheses or emoji are searched as words (or dropped) and cannot raise a syntax error. All
words must match; when none does, any word may (stop words dropped), and SearchResult.match says which.
`now` is always passed in.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from bot.opportunities.model import FEED_TIMEZONE, Contact, Opportunity
from bot.opportunities.store import (LIST_COLUMNS, TITLE_FTS, reader_connection, reader_has_title_index, reader_memo,
                                     reader_state)

MAX_TOKENS = 16
MAX_LIMIT = 100
# Counting every match of a very common word costs as much as ranking them all; past this many the total
# is reported as "at least" (SearchResult.total_capped).
COUNT_CAP = 1000
# bm25 ranks at most this many matches of a tier: the newest (the order notices were first seen). Past it,
# a common word's matches differ mostly in description length, and ranking them all costs tens of ms.
RANK_WINDOW = 1000
TITLE_COLUMNS = "{title_en title_fr}"
# bm25 weights in FTS column order: title_en, title_fr, description_en, description_fr, buyer, category_text
BM25_WEIGHTS = (8.0, 8.0, 1.0, 1.0, 3.0, 4.0)

STOP_WORDS = frozenset(
    """a an and any are as at be by for from i in into is it me my need of on or our the to we with
    looking find show tender tenders opportunity opportunities contract contracts bid bids
    le la les de des du un une et ou en pour sur au aux avec""".split()
)

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


@dataclass
class SearchQuery:
    text: str = ""
    categories: Sequence[str] = ()  # goods | services | construction | ...
    regions: Sequence[str] = ()  # normalized names, e.g. "Ontario", "National Capital Region"
    include_national: bool = False  # with regions: also notices open to all of Canada
    buyer: str = ""  # words of the buyer's name, e.g. "National Defence" or "DND"
    buyer_types: Sequence[str] = ()  # federal | municipal | bps | ontario_ministry | unknown
    unspsc_prefixes: Sequence[str] = ()  # e.g. "8011" for temporary personnel services
    sources: Sequence[str] = ()
    closing_after: dt.datetime | None = None
    closing_before: dt.datetime | None = None
    min_value: float | None = None  # notices without a known value are not excluded
    max_value: float | None = None
    include_closed: bool = False
    limit: int = 5
    offset: int = 0


@dataclass
class SearchResult:
    total: int  # exact up to COUNT_CAP; when total_capped, at least COUNT_CAP matched
    items: list[Opportunity] = field(default_factory=list)
    total_capped: bool = False
    match: str = ""  # "all" (every word), "any" (fallback), or "" (no text)
    available: bool = True  # False when no store has been built yet


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of user text, at most MAX_TOKENS, duplicates removed."""
    tokens: list[str] = []
    for token in _TOKEN_RE.findall(text or ""):
        token = token.strip("_").lower()
        if token and token not in tokens:
            tokens.append(token)
        if len(tokens) >= MAX_TOKENS:
            break
    return tokens


def fts_expression(tokens: Sequence[str], mode: str = "all") -> str:
    """An FTS5 MATCH expression in which every token is a quoted phrase (tokens come from tokenize())."""
    phrases = [f'"{t}"' for t in tokens if '"' not in t]
    if not phrases:
        return ""
    joiner = " AND " if mode == "all" else " OR "
    return "(" + joiner.join(phrases) + ")"


def _buyer_expression(buyer: str) -> str:
    tokens = tokenize(buyer)
    return f"buyer : ({' AND '.join(chr(34) + t + chr(34) for t in tokens)})" if tokens else ""


def _ts(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("search datetimes must be timezone-aware")
    return int(moment.timestamp())


def _prefix_range(prefix: str) -> tuple[str, str]:
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _junction(table: str, column: str, condition: str, window_sql: str, probe: bool) -> str:
    """A multi-valued filter. Driven by full-text matches (probe), it is an index probe per matching row;
    otherwise it is the list of ids in the closing window, read as one index range."""
    if probe:
        return f"EXISTS (SELECT 1 FROM {table} j WHERE j.opportunity_id = o.id AND ({condition.replace(column, 'j.' + column)}))"
    return f"o.id IN (SELECT opportunity_id FROM {table} WHERE ({condition}){window_sql})"


def _mask(masks: dict | None, kind: str, values: Sequence[str]) -> int | None:
    """The OR of the values' bits, or None when a value has no bit (or the store predates bits): then the
    junction table answers. A value never seen has no rows, so it adds nothing."""
    if masks is None:
        return None
    known = masks.get(kind, {})
    total = 0
    for value in values:
        if value in known:
            if known[value] is None:
                return None
            total |= known[value]
    return total


def _filters(query: SearchQuery, now: dt.datetime, probe: bool = False,
             masks: dict | None = None) -> tuple[list[str], list]:
    where: list[str] = []
    params: list = []
    # The same closing window, repeated inside each junction subquery so it is an index range there too.
    window_sql = ""
    window: list = []
    if not query.include_closed:
        window_sql += " AND closing_ts > ?"
        window.append(_ts(now))
    if query.closing_after is not None:
        window_sql += " AND closing_ts >= ?"
        window.append(_ts(query.closing_after))
    if query.closing_before is not None:
        window_sql += " AND closing_ts <= ?"
        window.append(_ts(query.closing_before))
    if not query.include_closed:
        where.append("o.closing_ts > ?")
        params.append(_ts(now))
    if query.closing_after is not None:
        where.append("o.closing_ts >= ?")
        params.append(_ts(query.closing_after))
    if query.closing_before is not None:
        where.append("o.closing_ts <= ?")
        params.append(_ts(query.closing_before))
    categories = sorted({c.strip().lower() for c in query.categories if c and c.strip()})
    category_mask = _mask(masks, "category", categories)
    if categories and category_mask is not None:
        where.append("(o.category_bits & ?) != 0")
        params.append(category_mask)
    elif categories:
        condition = f"category IN ({', '.join('?' for _ in categories)})"
        where.append(_junction("opportunity_categories", "category", condition, window_sql, probe))
        params.extend(categories + ([] if probe else window))
    regions = {r.strip().lower() for r in query.regions if r and r.strip()}
    region_mask = None
    if regions:
        if query.include_national:
            regions.add("canada")
        regions_sorted = sorted(regions)
        region_mask = _mask(masks, "region", regions_sorted)
    if regions and region_mask is not None:
        where.append("(o.region_bits & ?) != 0")
        params.append(region_mask)
    elif regions:
        condition = f"region IN ({', '.join('?' for _ in regions_sorted)})"
        where.append(_junction("opportunity_regions", "region", condition, window_sql, probe))
        params.extend(regions_sorted + ([] if probe else window))
    buyer_types = sorted({b.strip().lower() for b in query.buyer_types if b and b.strip()})
    if buyer_types:
        where.append(f"o.buyer_type IN ({', '.join('?' for _ in buyer_types)})")
        params.extend(buyer_types)
    sources = sorted({s.strip() for s in query.sources if s and s.strip()})
    if sources:
        where.append(f"o.source IN ({', '.join('?' for _ in sources)})")
        params.extend(sources)
    prefixes = sorted({p.strip() for p in query.unspsc_prefixes if p and p.strip()})
    if prefixes:
        ranges = []
        for prefix in prefixes:
            low, high = _prefix_range(prefix)
            ranges.append("(code >= ? AND code < ?)")
            params.extend([low, high])
        where.append(_junction("opportunity_unspsc", "code", " OR ".join(ranges), window_sql, probe))
        if not probe:
            params.extend(window)
    if query.min_value is not None:
        where.append("(o.max_value IS NULL OR o.max_value >= ?)")
        params.append(float(query.min_value))
    if query.max_value is not None:
        where.append("(o.min_value IS NULL OR o.min_value <= ?)")
        params.append(float(query.max_value))
    return where, params


def search(query: SearchQuery, now: dt.datetime, db_path: Path | str | None = None) -> SearchResult:
    """Open opportunities matching `query` as of `now` (timezone-aware).

    Order: notices with the words in their title first, then by bm25 relevance, then soonest closing.
    """
    conn, masks = reader_state(Path(db_path) if db_path else None)
    if conn is None:
        return SearchResult(total=0, available=False)
    limit = max(0, min(int(query.limit), MAX_LIMIT))
    offset = max(0, int(query.offset))
    tokens = tokenize(query.text)
    buyer = _buyer_expression(query.buyer)
    where, params = _filters(query, now, probe=bool(tokens or buyer), masks=masks)
    try:
        if not tokens:
            total, ids = _by_closing(conn, buyer, where, params, limit, offset)
            return _result(conn, total, ids, "")
        titles = reader_has_title_index(Path(db_path) if db_path else None)
        total, ids = _ranked(conn, fts_expression(tokens, "all"), buyer, where, params, limit, offset, titles)
        if total or len(tokens) == 1:
            return _result(conn, total, ids, "all")
        useful = [t for t in tokens if t not in STOP_WORDS] or tokens
        total, ids = _ranked(conn, fts_expression(useful, "any"), buyer, where, params, limit, offset, titles)
        return _result(conn, total, ids, "any")
    except sqlite3.OperationalError as exc:
        # Only reachable if the quoting above has a hole; a user must never see it as a crash.
        if "fts5" in str(exc).lower() or "syntax" in str(exc).lower():
            return SearchResult(total=0, match="all")
        raise


def _result(conn: sqlite3.Connection, total: int, ids: list[int], match: str) -> SearchResult:
    return SearchResult(total=min(total, COUNT_CAP), items=_load(conn, ids), match=match,
                        total_capped=total > COUNT_CAP)


def _join(*expressions: str) -> str:
    return " AND ".join(f"({e})" for e in expressions if e)


def _sql_parts(match: str, where: list[str], params: list, index: str = "opportunities_fts") -> tuple[str, str, list]:
    clauses = list(where)
    args = list(params)
    if match:
        # The MATCH goes first so SQLite drives the query from the full-text index.
        clauses.insert(0, f"{index} MATCH ?")
        args.insert(0, match)
        source = f"{index} JOIN listings o ON o.id = {index}.rowid"
    else:
        source = "listings o"
    return source, (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _count(conn: sqlite3.Connection, match: str, where: list[str], params: list) -> int:
    """Matches, counted up to COUNT_CAP + 1."""
    source, where_sql, args = _sql_parts(match, where, params)
    return conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {source}{where_sql} LIMIT {COUNT_CAP + 1})", args
    ).fetchone()[0]


def _by_closing(conn, match, where, params, limit, offset) -> tuple[int, list[int]]:
    total = _count(conn, match, where, params)
    if limit == 0 or total <= offset:
        return total, []
    source, where_sql, args = _sql_parts(match, where, params)
    rows = conn.execute(
        f"SELECT o.id FROM {source}{where_sql} ORDER BY o.closing_ts, o.id LIMIT ? OFFSET ?", [*args, limit, offset]
    ).fetchall()
    return total, [r[0] for r in rows]


def _window_sql(source: str, where_sql: str, size: int, index: str = "opportunities_fts") -> str:
    """The `size` newest matches with their bm25 score: FTS5 walks its index newest first and stops there.

    bm25 costs about a microsecond a row, so ranking every match of a common word (tens of thousands) is what
    made a search slow. A tier with fewer matches than the window is ranked whole.
    """
    weights = ", ".join(str(w) for w in BM25_WEIGHTS) if index == "opportunities_fts" else "1.0, 1.0"
    return (f"SELECT o.id AS id, o.closing_ts AS closing_ts, bm25({index}, {weights}) AS score "
            f"FROM {source}{where_sql} ORDER BY {index}.rowid DESC LIMIT {int(size)}")


def _past_window(conn, source: str, where_sql: str, args: list, skip: int, count: int,
                 index: str = "opportunities_fts") -> list[int]:
    """Matches after the first `skip` newest, newest first (only reached by paging past the ranked window)."""
    rows = conn.execute(f"SELECT o.id FROM {source}{where_sql} ORDER BY {index}.rowid DESC LIMIT ? OFFSET ?",
                        [*args, count, skip]).fetchall()
    return [r[0] for r in rows]


def _bm25_ids(conn, match: str, where: list[str], params: list, count: int,
              index: str = "opportunities_fts") -> list[int]:
    """The first `count` matches: the RANK_WINDOW newest ranked by bm25 then closing, then any others newest
    first."""
    source, where_sql, args = _sql_parts(match, where, params, index)
    rows = conn.execute(f"SELECT id FROM ({_window_sql(source, where_sql, RANK_WINDOW, index)}) "
                        "ORDER BY score, closing_ts, id LIMIT ?", [*args, count]).fetchall()
    ids = [r[0] for r in rows]
    if count > RANK_WINDOW and len(ids) == RANK_WINDOW:
        ids += _past_window(conn, source, where_sql, args, RANK_WINDOW, count - RANK_WINDOW, index)
    return ids


def _ranked(conn, text: str, buyer: str, where, params, limit, offset,
            title_index: bool = False) -> tuple[int, list[int]]:
    """Title matches ranked first; description-only matches are ranked only when the page reaches them.

    The title tier is small, so most pages are served from it alone.
    """
    total = _count(conn, _join(text, buyer), where, params)
    need = offset + limit
    if total == 0 or limit == 0 or total <= offset:
        return total, []
    in_title = f"{TITLE_COLUMNS} : {text}"
    if title_index and not buyer:
        # The titles-only index answers the first tier in a fraction of the time (see store.TITLE_FTS).
        ids = _bm25_ids(conn, text, where, params, need, TITLE_FTS)
    else:
        ids = _bm25_ids(conn, _join(in_title, buyer), where, params, need)
    if len(ids) < need:
        rest = f"({_join(text, buyer)}) NOT ({in_title})"
        ids += _bm25_ids(conn, rest, where, params, need - len(ids))
    return total, ids[offset:need]


def _load(conn: sqlite3.Connection, ids: list[int]) -> list[Opportunity]:
    if not ids:
        return []
    cursor = conn.execute(f"SELECT * FROM opportunities WHERE id IN ({', '.join('?' for _ in ids)})", ids)
    names = [d[0] for d in cursor.description]
    by_id = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        by_id[row["id"]] = row_to_opportunity(row)
    return [by_id[i] for i in ids if i in by_id]


def row_to_opportunity(row: dict) -> Opportunity:
    """An Opportunity rebuilt from an `opportunities` table row."""
    lists = {name: json.loads(row[name]) if row.get(name) else [] for name in LIST_COLUMNS}
    return Opportunity(
        source=row["source"],
        reference=row["reference"],
        solicitation_number=row["solicitation_number"] or "",
        title_en=row["title_en"] or "",
        title_fr=row["title_fr"] or "",
        description_en=row["description_en"] or "",
        description_fr=row["description_fr"] or "",
        buyer=row["buyer"] or "",
        buyer_type=row["buyer_type"] or "unknown",
        notice_type=row["notice_type"] or "",
        method=row["method"] or "",
        published=dt.date.fromisoformat(row["published"]) if row["published"] else None,
        closing=dt.datetime.fromisoformat(row["closing"]).astimezone(FEED_TIMEZONE) if row["closing"] else None,
        status=row["status"] or "",
        contact=Contact(row["contact_name"] or "", row["contact_email"] or "", row["contact_phone"] or ""),
        notice_url=row["notice_url"] or "",
        amendment_number=row["amendment_number"] or "",
        min_value=row["min_value"],
        max_value=row["max_value"],
        **lists,
    )


def get_notice(source: str, reference: str, db_path: Path | str | None = None) -> Opportunity | None:
    """One stored notice by its source and reference, open or closed; None when unknown or no store."""
    conn = reader_connection(Path(db_path) if db_path else None)
    if conn is None:
        return None
    row = conn.execute("SELECT id FROM opportunities WHERE source = ? AND reference = ?", (source, reference)).fetchone()
    if row is None:
        return None
    found = _load(conn, [row[0]])
    return found[0] if found else None


def buyer_names(db_path: Path | str | None = None) -> tuple[str, ...]:
    """Distinct buyer names in the store (for recognising a buyer named in a message); () without a store.

    Read once per version of the store file, not on every message."""
    names = reader_memo(Path(db_path) if db_path else None, "buyer_names", _read_buyer_names)
    return names if names is not None else ()


def _read_buyer_names(conn: sqlite3.Connection) -> tuple[str, ...]:
    return tuple(r[0] for r in conn.execute("SELECT DISTINCT buyer FROM opportunities WHERE buyer != ''"))
