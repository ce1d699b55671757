"""Build knowledge.db from the knowledge folder, atomically, and only from content that validates.

The new database is written to a temporary file in the same directory and moved over the old one with
`os.replace`, which is atomic on one file system: a reader sees the old store or the new one, never half of
one. When validation finds problems nothing is written and the last good store keeps serving.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from bot import clock
from bot.knowledge.loader import Knowledge, Problem, content_fingerprint, load_knowledge
from bot.knowledge.schema import CHILD_TABLES, TABLE_FIELDS, column_types, encode_row, key_field, step_column_types
from bot.knowledge.training import intent_for, questions_fingerprint, split_questions
from bot.knowledge.validate import check_knowledge

# Bump when the database layout changes, so `ensure_built` rebuilds stores made by older code.
SCHEMA_VERSION = 1
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"

TOPIC_COLUMNS: dict[str, type] = {
    "id": str, "title": str, "jurisdiction": str, "audience": str, "answer": str, "next_steps": str, "body": str,
    "sources": str, "source_url": str, "source_title": str, "last_reviewed": str, "review_every_days": int,
    "related": str, "tags": str, "path": str, "question_count": int,
}
QUESTION_COLUMNS: dict[str, type] = {"id": int, "topic_id": str, "intent": str, "question": str, "split": str}
META_COLUMNS: dict[str, type] = {
    "schema_version": int, "built_at": str, "content_sha256": str, "questions_sha256": str,
    "topic_count": int, "question_count": int,
}


class KnowledgeBuildError(Exception):
    """The knowledge has problems, so no store was written; `problems` lists them."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the knowledge files; the store was not changed:\n"
                         + "\n".join(str(p) for p in self.problems))


BuildError = KnowledgeBuildError  # the short name, for callers inside this package


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote: where, how much, and the fingerprints stored in its meta table."""

    db_path: Path
    topics: int
    questions: int
    rows: dict[str, int] = field(default_factory=dict)
    content_sha256: str = ""
    questions_sha256: str = ""
    built_at: str = ""

    def summary(self) -> str:
        """One line for people: counts of topics, questions, tables and rows."""
        return (f"{self.topics} topics, {self.questions} questions, {len(self.rows)} tables "
                f"({sum(self.rows.values())} rows)")


def build(knowledge_dir: Path | str, db_path: Path | str, *, today: dt.date | None = None,
          now: dt.datetime | None = None) -> BuildResult:
    """Validate `knowledge_dir` and write it to `db_path` atomically; raise KnowledgeBuildError on any problem.

    `today` (for the review-date check) and `now` (the recorded build time) default to `bot.clock`.
    """
    knowledge, problems = load_knowledge(knowledge_dir)
    problems = sorted(set(problems) | set(check_knowledge(knowledge, today or clock.today())))
    if problems:
        raise KnowledgeBuildError(problems)
    built_at = (now or clock.now()).isoformat(timespec="seconds")
    result = BuildResult(
        db_path=Path(db_path),
        topics=len(knowledge.topics),
        questions=knowledge.question_count,
        rows={name: len(rows) for name, rows in knowledge.tables.items()},
        content_sha256=knowledge.content_sha256,
        questions_sha256=questions_fingerprint(knowledge.topics),
        built_at=built_at,
    )
    _replace_atomically(Path(db_path), lambda path: _write_database(path, knowledge, result))
    return result


def ensure_built(knowledge_dir: Path | str, db_path: Path | str, *, today: dt.date | None = None) -> bool:
    """Rebuild `db_path` only if the knowledge files changed since it was built; True when it rebuilt.

    Also rebuilds a missing or unreadable store, or one written by an older layout. Raises KnowledgeBuildError when
    a rebuild is needed but the knowledge has problems (the existing store, if any, is left as it was).
    """
    meta = stored_meta(db_path)
    if (
        meta is not None
        and meta.get("schema_version") == SCHEMA_VERSION
        and meta.get("content_sha256") == content_fingerprint(Path(knowledge_dir))
    ):
        return False
    build(knowledge_dir, db_path, today=today)
    return True


def stored_meta(db_path: Path | str) -> dict[str, Any] | None:
    """The meta row of an existing store, or None when there is no readable store at `db_path`."""
    path = Path(db_path)
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            connection.row_factory = sqlite3.Row
            row = connection.execute("SELECT * FROM meta LIMIT 1").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return None
    return dict(row) if row is not None else None


def _replace_atomically(db_path: Path, write: Any) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory as the target: os.replace is only atomic within one file system.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db_path.name}.", suffix=".tmp", dir=db_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the action server may run as another user
        os.replace(tmp, db_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_database(path: Path, knowledge: Knowledge, result: BuildResult) -> None:
    db = sqlite_utils.Database(str(path))
    # The temp file is thrown away if anything fails and is fsynced once before the swap, so per-statement
    # journaling and syncing would only make the build slower.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    try:
        _write_topics(db, knowledge)
        for table in TABLE_FIELDS:
            db[table].create(column_types(table), pk=key_field(table))
            db[table].insert_all(encode_row(table, row) for row in knowledge.tables[table])
        _write_checklist_steps(db, knowledge)
        db["meta"].create(META_COLUMNS)
        db["meta"].insert({
            "schema_version": SCHEMA_VERSION,
            "built_at": result.built_at,
            "content_sha256": result.content_sha256,
            "questions_sha256": result.questions_sha256,
            "topic_count": result.topics,
            "question_count": result.questions,
        })
    finally:
        db.close()


def _write_topics(db: sqlite_utils.Database, knowledge: Knowledge) -> None:
    db["topics"].create(TOPIC_COLUMNS, pk="id")
    db["topics"].insert_all(
        {
            "id": topic.id,
            "title": topic.title,
            "jurisdiction": topic.jurisdiction,
            "audience": json.dumps(topic.audience),
            "answer": topic.answer,
            "next_steps": json.dumps(topic.next_steps, ensure_ascii=False),
            "body": topic.body,
            "sources": json.dumps([{"url": s.url, "title": s.title} for s in topic.sources], ensure_ascii=False),
            "source_url": topic.sources[0].url,
            "source_title": topic.sources[0].title,
            "last_reviewed": topic.last_reviewed.isoformat() if topic.last_reviewed else None,
            "review_every_days": topic.review_every_days,
            "related": json.dumps(topic.related),
            "tags": json.dumps(topic.tags, ensure_ascii=False),
            "path": topic.path,
            "question_count": len(topic.questions),
        }
        for topic in knowledge.topics
    )
    train, heldout = split_questions(knowledge.topics)
    db["questions"].create(QUESTION_COLUMNS, pk="id")
    rows = []
    for topic in knowledge.topics:
        intent = intent_for(topic.id)
        held = set(heldout[intent])
        rows.extend(
            {"topic_id": topic.id, "intent": intent, "question": q, "split": "heldout" if q in held else "train"}
            for q in dict.fromkeys(topic.questions)
        )
    db["questions"].insert_all(rows)
    db["questions"].create_index(["topic_id"])
    # Title and body (answer + next steps) are searched; the title is weighted higher at query time.
    db["topics"].enable_fts(["title", "body"], fts_version="FTS5", tokenize=FTS_TOKENIZER)
    db["questions"].enable_fts(["question"], fts_version="FTS5", tokenize=FTS_TOKENIZER)


def _write_checklist_steps(db: sqlite_utils.Database, knowledge: Knowledge) -> None:
    parent, child = CHILD_TABLES["checklists"]
    db[child].create(step_column_types(), pk=("checklist_id", "id"))
    db[child].insert_all(
        {"checklist_id": checklist["id"], "position": position, **step}
        for checklist in knowledge.tables["checklists"]
        for position, step in enumerate(checklist[parent], start=1)
    )
