"""Where writes that every node must see go: handoff requests now, alert subscriptions later.

One rule, no extra setting:

- When TRACKER_STORE_URL names a server database (PostgreSQL in a cluster), shared writes go to that same
  database, in their own tables. Every Rasa server must already reach it, so a cluster gains no new service.
- Otherwise (the default SQLite tracker store, one machine, one action server) each feature keeps its own
  SQLite file in DATA_DIR, e.g. `handoffs.db`.

A feature declares its tables on `METADATA` and writes inside `transaction(...)`:

    handoff_requests = sa.Table("handoff_requests", shared_store.METADATA, sa.Column("id", ...), ...)

    with shared_store.transaction(HANDOFFS_FILE, handoff_requests) as connection:
        connection.execute(handoff_requests.insert().values(...))

Tables are created on first use (safely when several nodes start at once). Engines are created lazily, once
per database URL, so importing this module opens nothing.
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot import settings

METADATA = sa.MetaData()

_engines: dict[str, Engine] = {}
_created: set[tuple[str, str]] = set()
_lock = threading.Lock()


def is_server_database(url: str) -> bool:
    """True for a URL of a database every node can reach (anything but SQLite)."""
    return bool(url) and not url.split(":", 1)[0].lower().startswith("sqlite")


def database_url(sqlite_file: str, db_path: Path | None = None) -> str:
    """The SQLAlchemy URL shared writes of one feature go to.

    `db_path` (a SQLite file) wins when given, as tests do; then the tracker store's database when it is a
    server database; else `DATA_DIR/<sqlite_file>`.
    """
    if db_path is not None:
        return f"sqlite:///{Path(db_path)}"
    tracker_url = settings.get("TRACKER_STORE_URL")
    if is_server_database(tracker_url):
        return tracker_url
    return f"sqlite:///{settings.data_dir() / sqlite_file}"


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL, None for a server database."""
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def engine(url: str) -> Engine:
    """The one engine for a URL in this process."""
    with _lock:
        found = _engines.get(url)
        if found is None:
            if sqlite_path(url) is not None:
                # Several threads of one action server may write at once: wait for the file lock, don't fail.
                found = sa.create_engine(url, connect_args={"timeout": 30}, future=True)
            else:
                found = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, future=True)
            _engines[url] = found
        return found


def ensure_tables(bound: Engine, *tables: sa.Table) -> None:
    """Creates the tables that are missing; another node creating them at the same moment is fine."""
    key_url = str(bound.url)
    missing = [t for t in tables if (key_url, t.name) not in _created]
    if not missing:
        return
    try:
        METADATA.create_all(bound, tables=missing, checkfirst=True)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
        # PostgreSQL: two nodes racing through CREATE TABLE; the loser sees a duplicate. Check again.
        existing = set(sa.inspect(bound).get_table_names())
        if not all(t.name in existing for t in missing):
            raise
    with _lock:
        _created.update((key_url, t.name) for t in missing)


@contextlib.contextmanager
def transaction(sqlite_file: str, *tables: sa.Table, db_path: Path | None = None) -> Iterator[Connection]:
    """A connection in a transaction on the shared-writes database, with `tables` created if missing.

    Commits on a clean exit, rolls back on an exception.
    """
    bound = engine(database_url(sqlite_file, db_path))
    ensure_tables(bound, *tables)
    with bound.begin() as connection:
        yield connection


def exists(sqlite_file: str, table: sa.Table, db_path: Path | None = None) -> bool:
    """True when the table exists, without creating the SQLite file when it does not (reads use this)."""
    url = database_url(sqlite_file, db_path)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return False
    return sa.inspect(engine(url)).has_table(table.name)


def dispose() -> None:
    """Closes every pooled connection (tests, and before a process forks)."""
    with _lock:
        for bound in _engines.values():
            bound.dispose()
        _engines.clear()
        _created.clear()
