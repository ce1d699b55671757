"""Read-only access to knowledge.db for the action server, live across rebuilds without a restart.

The file is opened lazily and read-only. Before each call the store compares the file's inode, size and
mtime with the ones it opened (one `os.stat`, no SQL): `build` swaps in a new file with `os.replace`, so a new
inode means a new store, and the connection is reopened. A connection to the replaced file would otherwise
keep serving the old, unlinked copy forever.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from bot import settings
from bot.knowledge.schema import CHILD_TABLES, TABLE_FIELDS, decode_row, key_field

DB_FILENAME = "knowledge.db"
# Weights for bm25 over topics_fts(title, body): a word in the title says more about the topic.
TITLE_WEIGHT, BODY_WEIGHT = 4.0, 1.0
MAX_QUERY_TERMS = 24
_CANDIDATES = 50
# Words so common they would match every topic; dropped unless the query has nothing else.
_STOPWORDS = frozenset(
    "a an and are as at be but by can could do does for from had has have how i if in into is it its me my "
    "of on or our should so than that the their them then there these they this to was we what when where "
    "which who why will with would you your".split()
)
_WORD_RE = re.compile(r"[^\W_]+")


class KnowledgeUnavailable(RuntimeError):
    """knowledge.db is missing or unreadable; build it with `python -m bot knowledge build`."""


class UnknownTable(KeyError):
    """The table name is not one of the knowledge tables."""


def fts_query(text: str, keep_stopwords: bool = False) -> str | None:
    """A safe FTS5 query for arbitrary user text: its words, each quoted, joined by OR; None if no words.

    Quoting every term means FTS syntax typed by a user (quotes, *, NEAR(, OR, parentheses) is searched
    as plain words and can never become a syntax error. Stop words are dropped unless `keep_stopwords`
    (or unless the text has nothing else).
    """
    words = list(dict.fromkeys(w.casefold() for w in _WORD_RE.findall(text or "")))
    content = words if keep_stopwords else [w for w in words if w not in _STOPWORDS] or words
    terms = content[:MAX_QUERY_TERMS]
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


class KnowledgeStore:
    """Read-only queries over a knowledge.db file; reopens by itself when the file is rebuilt."""

    def __init__(self, db_path: Path | str):
        self.db_path = Path(db_path)
        self._connection: sqlite3.Connection | None = None
        self._identity: tuple[int, int, int, int] | None = None
        # The action server may call from several threads; one connection, used one call at a time.
        self._lock = threading.RLock()

    # -- connection ---------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """The open connection, reopened first if the file changed since it was opened."""
        try:
            stat = os.stat(self.db_path)
        except FileNotFoundError:
            self.close()
            raise KnowledgeUnavailable(
                f"knowledge store not found at {self.db_path}; build it with `python -m bot knowledge build`"
            ) from None
        identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._connection is not None and identity == self._identity:
            return self._connection
        self.close()
        uri = f"{self.db_path.resolve().as_uri()}?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            connection.execute("SELECT 1 FROM meta LIMIT 1").fetchall()  # a non-store file fails here, not later
        except sqlite3.DatabaseError as error:
            raise KnowledgeUnavailable(f"knowledge store at {self.db_path} cannot be read ({error}); "
                                       "rebuild it with `python -m bot knowledge build`") from None
        self._connection, self._identity = connection, identity
        return connection

    def close(self) -> None:
        """Close the connection (the next call reopens it)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
            self._connection, self._identity = None, None

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connect().execute(sql, params).fetchall()

    # -- queries ------------------------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """The build's meta row: built_at, content_sha256, questions_sha256, counts."""
        rows = self._query("SELECT * FROM meta LIMIT 1")
        return dict(rows[0]) if rows else {}

    def topics(self) -> list[tuple[str, str]]:
        """Every topic as (id, title), by id."""
        return [(row["id"], row["title"]) for row in self._query("SELECT id, title FROM topics ORDER BY id")]

    def get_topic(self, topic_id: str) -> dict[str, Any] | None:
        """A topic ready to answer with, or None when there is no such id.

        Keys: id, title, jurisdiction, audience, answer, next_steps, body, sources [{url, title}], source
        (the first, the one the answer cites), last_reviewed (date), review_every_days, related
        [{id, title}] (only ids that exist), tags.
        """
        with self._lock:
            connection = self._connect()  # one stat for the whole call, and both queries see the same file
            row = connection.execute("SELECT * FROM topics WHERE id = ?", (topic_id,)).fetchone()
            if row is None:
                return None
            related_ids: list[str] = json.loads(row["related"])
            titles = {
                r["id"]: r["title"]
                for r in connection.execute(
                    f"SELECT id, title FROM topics WHERE id IN ({','.join('?' * len(related_ids))})", related_ids
                )
            } if related_ids else {}
        sources = json.loads(row["sources"])
        return {
            "id": row["id"],
            "title": row["title"],
            "jurisdiction": row["jurisdiction"],
            "audience": json.loads(row["audience"]),
            "answer": row["answer"],
            "next_steps": json.loads(row["next_steps"]),
            "body": row["body"],
            "sources": sources,
            "source": sources[0] if sources else None,
            "last_reviewed": dt.date.fromisoformat(row["last_reviewed"]),
            "review_every_days": row["review_every_days"],
            "related": [{"id": rid, "title": titles[rid]} for rid in related_ids if rid in titles],
            "tags": json.loads(row["tags"]),
        }

    def search(self, text: str, limit: int = 3) -> list[tuple[str, str, float]]:
        """The topics best matching free text, as (topic_id, title, score), best first; [] when nothing matches.

        Safe for any user text. A topic scores by its title and body plus its best-matching example question,
        so "do i need to be on a vor" finds the VOR topic through the questions staff wrote for it.
        """
        query = fts_query(text)
        # Example questions are short, and their small words ("how do i", "what is") tell topics apart.
        question_query = fts_query(text, keep_stopwords=True)
        limit = int(limit)
        if query is None or question_query is None or limit <= 0:
            return []
        scores: dict[str, float] = {}
        try:
            with self._lock:
                connection = self._connect()
                for row in connection.execute(
                    f"SELECT topics.id AS topic_id, -bm25(topics_fts, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS score "
                    "FROM topics_fts JOIN topics ON topics.rowid = topics_fts.rowid "
                    "WHERE topics_fts MATCH ? ORDER BY score DESC LIMIT ?", (query, _CANDIDATES)):
                    scores[row["topic_id"]] = scores.get(row["topic_id"], 0.0) + row["score"]
                best_question: dict[str, float] = {}
                for row in connection.execute(
                    "SELECT questions.topic_id AS topic_id, -bm25(questions_fts) AS score "
                    "FROM questions_fts JOIN questions ON questions.rowid = questions_fts.rowid "
                    "WHERE questions_fts MATCH ? ORDER BY score DESC LIMIT ?", (question_query, _CANDIDATES)):
                    best_question[row["topic_id"]] = max(best_question.get(row["topic_id"], 0.0), row["score"])
                for topic_id, score in best_question.items():
                    scores[topic_id] = scores.get(topic_id, 0.0) + score
                titles = dict(connection.execute("SELECT id, title FROM topics").fetchall()) if scores else {}
        except sqlite3.OperationalError:
            # Defence in depth: fts_query quotes every term, but a user must never see a search crash.
            return []
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [(topic_id, titles.get(topic_id, topic_id), round(score, 6)) for topic_id, score in ranked]

    def table(self, name: str) -> list[dict[str, Any]]:
        """Every row of a knowledge table, shaped as in the YAML file (dates as date/datetime, source nested).

        Checklists come with their `steps` in order. Raises UnknownTable for any other name.
        """
        if name not in TABLE_FIELDS:
            raise UnknownTable(name)
        with self._lock:
            connection = self._connect()
            stored = connection.execute(f"SELECT * FROM [{name}] ORDER BY rowid").fetchall()
            rows = [decode_row(name, dict(row)) for row in stored]
            if name in CHILD_TABLES:
                field, child = CHILD_TABLES[name]
                by_parent: dict[str, list[dict[str, Any]]] = {}
                for step in connection.execute(f"SELECT * FROM [{child}] ORDER BY checklist_id, position"):
                    values = dict(step)
                    parent = values.pop("checklist_id")
                    values.pop("position")
                    by_parent.setdefault(parent, []).append(values)
                for row in rows:
                    row[field] = by_parent.get(row[key_field(name)], [])
        return rows


@functools.lru_cache(maxsize=1)
def get_store() -> KnowledgeStore:
    """The store at DATA_DIR/knowledge.db, created once per process (the file itself is opened on first use)."""
    return KnowledgeStore(settings.data_dir() / DB_FILENAME)
