"""opportunities.db: the normalized listings, their amendment history, full-text index and per-source status.

Writers never modify the live file. `open_writer()` copies it (under a lock file, one writer at a time), the
caller updates the copy, and on success the copy replaces the live file with os.replace(), so readers in other
processes always open a complete database. Readers (`reader_connection`) reopen when the file's inode or
mtime changes. The file stays in rollback-journal mode: a WAL file would not travel with the swap.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import json
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

from bot import settings
from bot.opportunities.model import Opportunity, RowError

DB_FILENAME = "opportunities.db"
SCHEMA_VERSION = 3
# Region and category filters are bit tests on the slim `listings` row (one bit per distinct value, assigned on
# first sight and listed in `filter_bits`); the junction tables stay complete and serve values past the last bit.
FILTER_KINDS = {"region": ("opportunity_regions", "region", "region_bits"),
                "category": ("opportunity_categories", "category", "category_bits")}
MAX_FILTER_BITS = 62  # bits 0..61: masks stay positive 64-bit integers
FTS_COLUMNS = ("title_en", "title_fr", "description_en", "description_fr", "buyer", "category_text")
# A second, small full-text index over the titles alone serves search's first tier ("the words are in the
# title"). Asked of the main index, a title-only match still walks every notice holding the word anywhere
# (descriptions are long), and bm25 first counts them all: 5-25 ms for a common word at 100,000 notices,
# against 1-3 ms here.
TITLE_FTS = "opportunity_titles_fts"
TITLE_FTS_COLUMNS = ("title_en", "title_fr")
LIST_COLUMNS = (
    "category", "unspsc", "unspsc_descriptions", "gsin", "gsin_descriptions", "regions", "trade_agreements",
    "attachments",
)
# Share of a feed's records that may fail before the whole feed is refused: a feed that is mostly unreadable
# is a wrong or broken file, not a few bad notices.
MAX_ERROR_RATIO = 0.5
ERROR_LINES_KEPT = 50


def default_db_path() -> Path:
    """data_dir()/opportunities.db."""
    return settings.data_dir() / DB_FILENAME


class FeedRejected(Exception):
    """A parsed feed had too many bad rows (or none good) to be trusted; nothing of it was stored."""


# ---- schema ------------------------------------------------------------------------------------------

# Small, filtered columns first: SQLite reads a row's columns in order, so putting closing_ts behind kilobytes
# of description would drag overflow pages into every filter.
_OPPORTUNITY_COLUMNS = {
    "id": int, "source": str, "reference": str, "closing_ts": int, "buyer_type": str,
    "min_value": float, "max_value": float, "content_hash": str, "amendment_number": str,
    "closing": str, "published": str, "status": str, "solicitation_number": str,
    "title_en": str, "title_fr": str, "buyer": str, "notice_type": str, "method": str,
    "category": str, "regions": str, "unspsc": str, "gsin": str,
    "contact_name": str, "contact_email": str, "contact_phone": str, "notice_url": str,
    "first_seen": str, "last_seen": str, "updated": str,
    "trade_agreements": str, "attachments": str, "unspsc_descriptions": str, "gsin_descriptions": str,
    "category_text": str, "description_en": str, "description_fr": str,
}


# Each full-text index follows `opportunities` through three triggers (external-content FTS5 tables).
_FTS_INDEXES = {
    "opportunities_fts": ("opportunities", FTS_COLUMNS),
    TITLE_FTS: ("opportunity_titles", TITLE_FTS_COLUMNS),
}


def _fts_trigger_names(index: str) -> tuple[str, ...]:
    prefix = _FTS_INDEXES[index][0]
    return (f"{prefix}_ai", f"{prefix}_ad", f"{prefix}_au")


def _create_fts_triggers(conn: sqlite3.Connection, index: str) -> None:
    """The triggers keeping `index` in step with `opportunities` (one statement each: safe inside a transaction)."""
    columns = _FTS_INDEXES[index][1]
    ai, ad, au = _fts_trigger_names(index)
    cols = ", ".join(columns)
    new_cols = ", ".join(f"new.{c}" for c in columns)
    old_cols = ", ".join(f"old.{c}" for c in columns)
    insert = f"INSERT INTO {index}(rowid, {cols}) VALUES (new.id, {new_cols});"
    delete = f"INSERT INTO {index}({index}, rowid, {cols}) VALUES ('delete', old.id, {old_cols});"
    conn.execute(f"CREATE TRIGGER IF NOT EXISTS {ai} AFTER INSERT ON opportunities BEGIN {insert} END")
    conn.execute(f"CREATE TRIGGER IF NOT EXISTS {ad} AFTER DELETE ON opportunities BEGIN {delete} END")
    conn.execute(
        f"CREATE TRIGGER IF NOT EXISTS {au} AFTER UPDATE OF {cols} ON opportunities BEGIN {delete} {insert} END"
    )


def _drop_fts_triggers(conn: sqlite3.Connection, index: str) -> None:
    for name in _fts_trigger_names(index):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the tables, indexes, full-text index and its triggers if missing (idempotent)."""
    if "opportunities" not in db.table_names():
        db["opportunities"].create(_OPPORTUNITY_COLUMNS, pk="id", not_null={"source", "reference"})
        db["opportunities"].create_index(["source", "reference"], unique=True)
        # Search is "open now" (closing_ts > now) ordered by closing: one index serves the range and the order.
        # Search filters and sorts on a slim copy of the filterable columns: rows of `opportunities` are
        # kilobytes wide, so reaching them once per full-text match costs a page read each.
        db.execute(
            "CREATE TABLE listings (id INTEGER PRIMARY KEY, closing_ts INTEGER, buyer_type TEXT, source TEXT, "
            "min_value REAL, max_value REAL, region_bits INTEGER NOT NULL DEFAULT 0, "
            "category_bits INTEGER NOT NULL DEFAULT 0)"
        )
        _create_listings_index(db)
        db.execute(_FILTER_BITS_SQL)
        # Junction tables carry closing_ts so "in Ontario and still open" is one index range.
        for table, value in (("opportunity_regions", "region"), ("opportunity_categories", "category"),
                             ("opportunity_unspsc", "code")):
            db.execute(
                f"CREATE TABLE [{table}] ([{value}] TEXT NOT NULL, closing_ts INTEGER, opportunity_id INTEGER NOT NULL,"
                f" PRIMARY KEY ([{value}], closing_ts, opportunity_id)) WITHOUT ROWID"
            )
            db.execute(f"CREATE INDEX [idx_{table}_opportunity] ON [{table}] (opportunity_id, [{value}])")
        db.execute(
            "CREATE VIRTUAL TABLE opportunities_fts USING fts5("
            + ", ".join(FTS_COLUMNS)
            + ", content='opportunities', content_rowid='id', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        _create_fts_triggers(db.conn, "opportunities_fts")
    # DISTINCT buyer (the names the chat recognises) reads this narrow index instead of every kilobytes-wide
    # row of the table: a full scan of a 100,000-listing store took 100-200 ms and pulled the whole file
    # into the action server's memory. Created by the next refresh in an older store.
    db.execute("CREATE INDEX IF NOT EXISTS idx_opportunities_buyer ON opportunities (buyer)")
    _create_title_index(db)
    if "amendments" not in db.table_names():
        db["amendments"].create(
            {"id": int, "source": str, "reference": str, "recorded_at": str,
             "amendment_from": str, "amendment_to": str, "closing_from": str, "closing_to": str,
             "title_from": str, "title_to": str},
            pk="id",
        )
        db["amendments"].create_index(["source", "reference"])
    if "source_status" not in db.table_names():
        db["source_status"].create(
            {"source": str, "format": str, "origin": str, "url": str, "last_attempt": str, "last_success": str,
             "last_error": str, "last_error_at": str, "rows": int, "row_errors": int, "error_lines": str,
             "etag": str, "last_modified": str, "sha256": str, "snapshot": int, "snapshot_date": str},
            pk="source",
        )
    if "meta" not in db.table_names():
        db["meta"].create({"key": str, "value": str}, pk="key")
        db["meta"].insert({"key": "schema_version", "value": str(SCHEMA_VERSION)})
    _upgrade(db)


_FILTER_BITS_SQL = (
    "CREATE TABLE IF NOT EXISTS filter_bits (kind TEXT NOT NULL, value TEXT NOT NULL, mask INTEGER, "
    "PRIMARY KEY (kind, value)) WITHOUT ROWID"
)


def _create_listings_index(db: sqlite_utils.Database) -> None:
    # One covering index, in search order (closing, then id), holding every filtered column: a filter-only
    # search is a single index range read in the order it returns, and stops at its LIMIT.
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_listings_closing ON listings "
        "(closing_ts, id, region_bits, category_bits, buyer_type, source, min_value, max_value)"
    )


def _create_title_index(db: sqlite_utils.Database) -> bool:
    """Create the titles-only full-text index and its triggers if missing; True when it was created (empty)."""
    if TITLE_FTS in db.table_names():
        return False
    db.execute(
        f"CREATE VIRTUAL TABLE {TITLE_FTS} USING fts5({', '.join(TITLE_FTS_COLUMNS)}, content='opportunities', "
        "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
    )
    _create_fts_triggers(db.conn, TITLE_FTS)
    return True


def _upgrade(db: sqlite_utils.Database) -> None:
    """Bring a store written by an older version to this layout, in place (runs on the writer's copy)."""
    conn = db.conn
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row and str(row[0]).isdigit() else 0
    if version >= SCHEMA_VERSION:
        return
    if version < 3:
        # ensure_schema has just created the (empty) title index for a store that predates it: fill it.
        conn.execute(f"INSERT INTO {TITLE_FTS}({TITLE_FTS}) VALUES ('rebuild')")
    if version < 2:
        _upgrade_to_filter_bits(db)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def _upgrade_to_filter_bits(db: sqlite_utils.Database) -> None:
    conn = db.conn
    columns = {r[1] for r in conn.execute("PRAGMA table_info(listings)")}
    for column in ("region_bits", "category_bits"):
        if column not in columns:
            conn.execute(f"ALTER TABLE listings ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    conn.execute(_FILTER_BITS_SQL)
    conn.execute("DROP INDEX IF EXISTS idx_listings_open")
    conn.execute("DELETE FROM filter_bits")
    for kind, (table, value, bits_column) in FILTER_KINDS.items():
        # The most common values get the bits.
        values = [r[0] for r in conn.execute(f"SELECT [{value}] FROM [{table}] GROUP BY 1 ORDER BY count(*) DESC, 1")]
        conn.executemany(
            "INSERT INTO filter_bits (kind, value, mask) VALUES (?, ?, ?)",
            [(kind, v, (1 << n) if n < MAX_FILTER_BITS else None) for n, v in enumerate(values)],
        )
        # Each (value, notice) pair is stored once, so the sum of distinct bits is their OR.
        conn.execute(
            f"UPDATE listings SET {bits_column} = coalesce((SELECT sum(b.mask) FROM [{table}] j "
            f"JOIN filter_bits b ON b.kind = ? AND b.value = j.[{value}] WHERE j.opportunity_id = listings.id), 0)",
            (kind,),
        )
    _create_listings_index(db)


class _FilterBits:
    """The writer's value -> bit map, extended as new values arrive."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.masks: dict[str, dict[str, int | None]] = {kind: {} for kind in FILTER_KINDS}
        for kind, value, mask in conn.execute("SELECT kind, value, mask FROM filter_bits"):
            if kind in self.masks:
                self.masks[kind][value] = mask

    def mask(self, kind: str, values: Iterable[str]) -> int:
        known = self.masks[kind]
        total = 0
        for value in values:
            if value not in known:
                used = sum(1 for m in known.values() if m is not None)
                known[value] = (1 << used) if used < MAX_FILTER_BITS else None
                self.conn.execute("INSERT OR IGNORE INTO filter_bits (kind, value, mask) VALUES (?, ?, ?)",
                                  (kind, value, known[value]))
            total |= known[value] or 0
        return total


# ---- writing -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def open_writer(db_path: Path | None = None) -> Iterator[sqlite_utils.Database]:
    """A writable copy of the store; on clean exit it atomically replaces the live file, on error it is discarded."""
    db_path = Path(db_path or default_db_path())
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(db_path) + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fd, tmp_name = tempfile.mkstemp(dir=db_path.parent, prefix=f".{db_path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if db_path.exists():
                shutil.copyfile(db_path, tmp)
            else:
                tmp.unlink()
            # check_same_thread=False: load() hands the connection to its writer thread (one user at a time).
            conn = sqlite3.connect(str(tmp), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=OFF")  # the copy is fsynced once below before it goes live
            conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache while building (bounded)
            db = sqlite_utils.Database(conn)
            try:
                ensure_schema(db)
                yield db
                conn.execute("PRAGMA optimize")
            finally:
                conn.close()
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, db_path)
            _fsync_dir(db_path.parent)
        finally:
            if tmp.exists():
                tmp.unlink()
            for suffix in ("-journal",):
                leftover = Path(str(tmp) + suffix)
                if leftover.exists():
                    leftover.unlink()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass
class LoadReport:
    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    amended: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0


def _iso(value: dt.datetime | dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


# json.dumps(value, ensure_ascii=False) without building an encoder per call (eight lists a row).
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def _record_row(opp: Opportunity) -> dict:
    row = {
        "source": opp.source, "reference": opp.reference, "solicitation_number": opp.solicitation_number,
        "title_en": opp.title_en, "title_fr": opp.title_fr,
        "description_en": opp.description_en, "description_fr": opp.description_fr,
        "buyer": opp.buyer, "buyer_type": opp.buyer_type,
        "notice_type": opp.notice_type, "method": opp.method,
        "published": _iso(opp.published),
        "closing": _iso(opp.closing),
        "closing_ts": int(opp.closing.timestamp()) if opp.closing else None,
        "status": opp.status,
        "contact_name": opp.contact.name, "contact_email": opp.contact.email, "contact_phone": opp.contact.phone,
        "notice_url": opp.notice_url, "amendment_number": opp.amendment_number,
        "min_value": opp.min_value, "max_value": opp.max_value,
    }
    for name in LIST_COLUMNS:
        value = getattr(opp, name)
        row[name] = "[]" if value == [] else _to_json(value)
    row["category_text"] = " ".join(opp.category + opp.unspsc_descriptions + opp.gsin_descriptions)
    row["content_hash"] = hashlib.sha1("\x1f".join(map(str, row.values())).encode()).hexdigest()
    return row


@functools.lru_cache(maxsize=8)
def _upsert_sql(columns: tuple[str, ...]) -> str:
    updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in ("source", "reference", "first_seen"))
    return (
        f"INSERT INTO opportunities ({', '.join(f'[{c}]' for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT(source, reference) DO UPDATE SET {updates} RETURNING id"
    )


def load(
    db: sqlite_utils.Database,
    source: str,
    items: Iterable[Opportunity | RowError],
    now: dt.datetime,
    *,
    batch_size: int = 500,
    max_error_ratio: float = MAX_ERROR_RATIO,
) -> LoadReport:
    """Upsert parsed items of one source into `db` (an open_writer copy) and return what happened.

    An amendment (a changed amendment number, or a changed closing date) is recorded in `amendments`.
    Raises FeedRejected, leaving the caller to discard the copy, when no row parsed or too many rows failed.
    """
    report = LoadReport(source=source)
    conn = db.conn
    stamp = now.isoformat()
    # Incremental merging of FTS segments on every insert is most of a big load's cost; merge once at the end.
    for index in ("opportunities_fts", TITLE_FTS):
        conn.execute(f"INSERT INTO {index}({index}, rank) VALUES ('automerge', 0)")
    conn.execute("BEGIN")
    # Loading into an empty store (a first refresh), the full-text indexes are built once at the end from the
    # stored rows ('rebuild') rather than row by row through the triggers: about half the load's time at
    # 100,000 notices. The triggers are dropped and recreated inside this transaction, so a failed load
    # rolls them back with everything else.
    bulk = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM opportunities)").fetchone()[0] == 1
    if bulk:
        for index in _FTS_INDEXES:
            _drop_fts_triggers(conn, index)
    bits = _FilterBits(conn)
    # Parsing (Python, holds the GIL) and writing (SQLite and FTS5 in C, releases it) overlap: this thread
    # parses and a writer thread stores. The bounded queue keeps memory flat whatever the feed's size.
    batches: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def writer() -> None:
        while True:
            batch = batches.get()
            if batch is None:
                return
            if failure:
                continue  # drain so the parser never blocks on a dead writer
            try:
                _write_batch(conn, batch, report, stamp, bits)
            except BaseException as exc:  # re-raised in the calling thread
                failure.append(exc)

    thread = threading.Thread(target=writer, name="opportunities-writer", daemon=True)
    thread.start()
    try:
        try:
            batch: list[tuple[Opportunity, dict]] = []
            for item in items:
                if failure:
                    break
                if isinstance(item, RowError):
                    report.error_count += 1
                    if len(report.errors) < ERROR_LINES_KEPT:
                        report.errors.append(item)
                    continue
                if item.source != source:
                    item.source = source
                batch.append((item, _record_row(item)))
                if len(batch) >= batch_size:
                    batches.put(batch)
                    batch = []
            if batch:
                batches.put(batch)
        finally:
            batches.put(None)
            thread.join()
        if failure:
            raise failure[0]
        total = report.rows + report.error_count
        if report.rows == 0:
            raise FeedRejected(
                f"no usable rows ({report.error_count} row errors)" if report.error_count else "the feed has no rows"
            )
        if total and report.error_count / total > max_error_ratio:
            raise FeedRejected(f"{report.error_count} of {total} rows failed to parse")
        for index in _FTS_INDEXES:
            if bulk:
                conn.execute(f"INSERT INTO {index}({index}) VALUES ('rebuild')")
                _create_fts_triggers(conn, index)
            conn.execute(f"INSERT INTO {index}({index}) VALUES ('optimize')")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return report


_JUNCTION_INSERTS = {
    "opportunity_regions":
        "INSERT OR IGNORE INTO opportunity_regions (region, closing_ts, opportunity_id) VALUES (?, ?, ?)",
    "opportunity_categories":
        "INSERT OR IGNORE INTO opportunity_categories (category, closing_ts, opportunity_id) VALUES (?, ?, ?)",
    "opportunity_unspsc":
        "INSERT OR IGNORE INTO opportunity_unspsc (code, closing_ts, opportunity_id) VALUES (?, ?, ?)",
}


def _write_batch(
    conn: sqlite3.Connection, batch: list[tuple[Opportunity, dict]], report: LoadReport, stamp: str,
    bits: _FilterBits,
) -> None:
    refs = list({opp.reference for opp, _ in batch})
    existing: dict[str, tuple] = {}
    for start in range(0, len(refs), 500):
        chunk = refs[start:start + 500]
        for row in conn.execute(
            "SELECT reference, id, content_hash, amendment_number, closing, title_en FROM opportunities "
            f"WHERE source = ? AND reference IN ({', '.join('?' for _ in chunk)})",
            [batch[0][0].source, *chunk],
        ):
            existing[row[0]] = row[1:]
    # The slim listings rows and the junction rows are written once per batch (executemany), not per notice.
    listings: list[tuple] = []
    junctions: dict[str, list[tuple]] = {table: [] for table in _JUNCTION_INSERTS}
    pending: set[int] = set()  # notices with rows in those lists

    def flush() -> None:
        pending.clear()
        if listings:
            conn.executemany(
                "INSERT OR REPLACE INTO listings (id, closing_ts, buyer_type, source, min_value, max_value, "
                "region_bits, category_bits) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                listings,
            )
            listings.clear()
        for table, sql in _JUNCTION_INSERTS.items():
            if junctions[table]:
                conn.executemany(sql, junctions[table])
                junctions[table].clear()

    for opp, row in batch:
        report.rows += 1
        old = existing.get(opp.reference)
        if old is not None and old[1] == row["content_hash"]:
            conn.execute("UPDATE opportunities SET last_seen = ? WHERE id = ?", (stamp, old[0]))
            report.unchanged += 1
            continue
        row["last_seen"] = stamp
        row["updated"] = stamp
        if old is None:
            row["first_seen"] = stamp
        columns = tuple(row)
        opportunity_id = conn.execute(_upsert_sql(columns), [row[c] for c in columns]).fetchone()[0]
        if old is None:
            report.inserted += 1
        else:
            report.updated += 1
            _, _, old_amendment, old_closing, old_title = old
            if old_amendment != row["amendment_number"] or old_closing != row["closing"]:
                report.amended += 1
                conn.execute(
                    "INSERT INTO amendments (source, reference, recorded_at, amendment_from, amendment_to, "
                    "closing_from, closing_to, title_from, title_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (opp.source, opp.reference, stamp, old_amendment, row["amendment_number"],
                     old_closing, row["closing"], old_title, row["title_en"]),
                )
            if opportunity_id in pending:
                flush()  # the same notice came earlier in this batch: write its rows before replacing them
            for table in ("opportunity_regions", "opportunity_categories", "opportunity_unspsc"):
                conn.execute(f"DELETE FROM {table} WHERE opportunity_id = ?", (opportunity_id,))
        existing[opp.reference] = (opportunity_id, row["content_hash"], row["amendment_number"],
                                   row["closing"], row["title_en"])
        closing_ts = row["closing_ts"]
        regions = [region.lower() for region in opp.regions]
        categories = [category.lower() for category in opp.category]
        pending.add(opportunity_id)
        listings.append((opportunity_id, closing_ts, row["buyer_type"], opp.source, row["min_value"],
                         row["max_value"], bits.mask("region", regions), bits.mask("category", categories)))
        junctions["opportunity_regions"].extend((region, closing_ts, opportunity_id) for region in regions)
        junctions["opportunity_categories"].extend((category, closing_ts, opportunity_id) for category in categories)
        junctions["opportunity_unspsc"].extend((code, closing_ts, opportunity_id) for code in opp.unspsc)
    flush()


def record_status(db: sqlite_utils.Database, source: str, **values) -> None:
    """Merge `values` into the source's source_status row."""
    db["source_status"].upsert({"source": source, **values}, pk="source", alter=True)


def read_status(db_path: Path | None = None) -> list[dict]:
    """Every source_status row plus `listings` (rows stored for that source); [] when there is no store yet."""
    conn = reader_connection(db_path)
    if conn is None:
        return []
    counts = dict(conn.execute("SELECT source, count(*) FROM opportunities GROUP BY source").fetchall())
    cursor = conn.execute("SELECT * FROM source_status ORDER BY source")
    names = [d[0] for d in cursor.description]
    rows = []
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        row["listings"] = counts.get(row["source"], 0)
        rows.append(row)
    return rows


def amendments_for(source: str, reference: str, db_path: Path | None = None) -> list[dict]:
    """The remembered amendments of one notice, oldest first."""
    conn = reader_connection(db_path)
    if conn is None:
        return []
    cursor = conn.execute(
        "SELECT * FROM amendments WHERE source = ? AND reference = ? ORDER BY id", (source, reference)
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def source_has_data(db_path: Path, source: str) -> bool:
    conn = reader_connection(db_path)
    if conn is None:
        return False
    row = conn.execute("SELECT last_success FROM source_status WHERE source = ?", (source,)).fetchone()
    return bool(row and row[0])


def source_state(db_path: Path, source: str) -> dict:
    conn = reader_connection(db_path)
    if conn is None:
        return {}
    cursor = conn.execute("SELECT * FROM source_status WHERE source = ?", (source,))
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row)) if row else {}


# ---- reading -----------------------------------------------------------------------------------------

class _Reader:
    """A read-only connection that follows the live file across atomic swaps."""

    def __init__(self, path: Path):
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.identity: tuple | None = None
        # kind -> {value: mask or None}; None when the file predates filter bits (until its next refresh).
        self.filter_masks: dict[str, dict[str, int | None]] | None = None
        # Values computed once per file version (e.g. the buyer names), dropped when the file is swapped.
        self.memo: dict[str, object] = {}
        self.title_index = False  # the file has the titles-only full-text index (layout 3 and later)

    def connection(self) -> sqlite3.Connection | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self.close()
            return None
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self.conn is None or identity != self.identity:
            self.close()
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            # Keep the full-text index and the slim listings table in memory between searches.
            self.conn.execute("PRAGMA cache_size=-65536")
            self.conn.execute("PRAGMA mmap_size=1073741824")
            self.identity = identity
            self.filter_masks = _read_filter_masks(self.conn)
            self.title_index = _schema_version(self.conn) >= 3
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.identity = None
        self.filter_masks = None
        self.memo = {}
        self.title_index = False


def _schema_version(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row and str(row[0]).isdigit() else 0


def _read_filter_masks(conn: sqlite3.Connection) -> dict[str, dict[str, int | None]] | None:
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if not version or not str(version[0]).isdigit() or int(version[0]) < 2:
            return None
        masks: dict[str, dict[str, int | None]] = {kind: {} for kind in FILTER_KINDS}
        for kind, value, mask in conn.execute("SELECT kind, value, mask FROM filter_bits"):
            if kind in masks:
                masks[kind][value] = mask
        return masks
    except sqlite3.Error:
        return None


_readers = threading.local()


def _reader(db_path: Path | None) -> _Reader:
    path = Path(db_path or default_db_path()).resolve()
    cache = getattr(_readers, "by_path", None)
    if cache is None:
        cache = _readers.by_path = {}
    reader = cache.get(path)
    if reader is None:
        reader = cache[path] = _Reader(path)
    return reader


def reader_connection(db_path: Path | None = None) -> sqlite3.Connection | None:
    """This thread's read-only connection to the live store, reopened after a swap; None if there is no store."""
    return _reader(db_path).connection()


def reader_state(db_path: Path | None = None) -> tuple[sqlite3.Connection | None, dict | None]:
    """reader_connection() and that file's filter bit masks (kind -> {value: mask or None}; None for an
    older layout, which search serves from the junction tables until the next refresh upgrades it)."""
    reader = _reader(db_path)
    conn = reader.connection()
    return conn, reader.filter_masks if conn is not None else None


def reader_memo(db_path: Path | None, key: str, compute):
    """compute(connection), worked out once per version of the live file (per thread) and kept until the
    file is swapped; None when there is no store. For answers that would otherwise scan the whole store on
    every message, such as the distinct buyer names."""
    reader = _reader(db_path)
    conn = reader.connection()
    if conn is None:
        return None
    if key not in reader.memo:
        reader.memo[key] = compute(conn)
    return reader.memo[key]


def reader_has_title_index(db_path: Path | None = None) -> bool:
    """True when this thread's reader's file has the titles-only full-text index (a store from before it
    answers title matches from the main index until its next refresh)."""
    reader = _reader(db_path)
    return reader.connection() is not None and reader.title_index
