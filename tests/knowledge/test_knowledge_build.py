"""knowledge.db is built atomically from valid content only; a broken edit never replaces the last good store."""
from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pytest

from bot.knowledge import build as build_module
from bot.knowledge.build import SCHEMA_VERSION, KnowledgeBuildError, build, ensure_built, stored_meta
from bot.knowledge.loader import content_fingerprint, load_knowledge
from bot.knowledge.store import KnowledgeStore
from bot.knowledge.training import questions_fingerprint
from knowledge_helpers import TODAY, replace_in

NOW = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone.utc)
EXPECTED_TABLES = {
    "topics", "questions", "methods", "trade_agreements", "preferences", "buyer_types", "categories",
    "vor_arrangements", "events", "programs", "checklists", "checklist_steps", "business_size", "glossary", "meta",
    "topics_fts", "questions_fts",
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_writes_every_table_meta_and_fts(knowledge_dir: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "var" / "knowledge.db"
    result = build(knowledge_dir, db_path, today=TODAY, now=NOW)

    assert (result.topics, result.questions) == (3, 25)
    with sqlite3.connect(db_path) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert EXPECTED_TABLES <= names
        meta = connection.execute("SELECT built_at, content_sha256, questions_sha256, schema_version FROM meta")
        built_at, content_sha, questions_sha, version = meta.fetchone()
        split_counts = dict(connection.execute("SELECT split, count(*) FROM questions GROUP BY split").fetchall())
        steps = connection.execute("SELECT id FROM checklist_steps ORDER BY position").fetchall()
    knowledge, _ = load_knowledge(knowledge_dir)
    assert built_at == NOW.isoformat(timespec="seconds")
    assert content_sha == content_fingerprint(knowledge_dir) == result.content_sha256
    assert questions_sha == questions_fingerprint(knowledge.topics)
    assert version == SCHEMA_VERSION
    assert split_counts == {"train": 21, "heldout": 4}  # 6→5+1, 7→6+1, 12→10+2
    assert steps == [("account",), ("profile",)]


def test_tables_read_back_exactly_as_loaded(knowledge_dir: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "knowledge.db"
    build(knowledge_dir, db_path, today=TODAY)
    knowledge, _ = load_knowledge(knowledge_dir)
    store = KnowledgeStore(db_path)
    for name, rows in knowledge.tables.items():
        assert store.table(name) == rows, name


def test_broken_edit_keeps_the_previous_store_byte_identical_and_serving(knowledge_dir: Path,
                                                                         tmp_path: Path) -> None:
    db_path = tmp_path / "knowledge.db"
    build(knowledge_dir, db_path, today=TODAY)
    store = KnowledgeStore(db_path)
    before_answer = store.get_topic("vor-types")["answer"]  # type: ignore[index]
    before = _sha(db_path)

    replace_in(knowledge_dir / "topics" / "vor-types.md", "There are enterprise-wide", "BROKEN ANSWER")
    replace_in(knowledge_dir / "tables" / "events.yml", "format: online", "format: webinar")
    with pytest.raises(KnowledgeBuildError) as raised:
        build(knowledge_dir, db_path, today=TODAY)

    assert [p.path for p in raised.value.problems] == ["tables/events.yml"]
    assert "tables/events.yml:" in str(raised.value)
    assert _sha(db_path) == before
    assert store.get_topic("vor-types")["answer"] == before_answer  # type: ignore[index]
    assert list(tmp_path.glob(".knowledge.db.*")) == []  # no temp file left behind


def test_a_crash_while_writing_leaves_the_old_store_and_no_temp_file(knowledge_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db_path = tmp_path / "knowledge.db"
    build(knowledge_dir, db_path, today=TODAY)
    before = _sha(db_path)

    def explode(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(build_module, "_write_database", explode)
    with pytest.raises(OSError, match="disk full"):
        build(knowledge_dir, db_path, today=TODAY)
    assert _sha(db_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["knowledge", "knowledge.db"]


def test_ensure_built_rebuilds_only_when_content_changes(knowledge_dir: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "knowledge.db"
    assert ensure_built(knowledge_dir, db_path, today=TODAY) is True  # no store yet
    first = _sha(db_path)
    assert ensure_built(knowledge_dir, db_path, today=TODAY) is False
    assert _sha(db_path) == first

    replace_in(knowledge_dir / "tables" / "glossary.yml", "Request for Proposal", "Request For Proposal")
    assert ensure_built(knowledge_dir, db_path, today=TODAY) is True
    assert stored_meta(db_path)["content_sha256"] == content_fingerprint(knowledge_dir)  # type: ignore[index]


def test_ensure_built_on_broken_content_raises_and_keeps_the_store(knowledge_dir: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "knowledge.db"
    ensure_built(knowledge_dir, db_path, today=TODAY)
    before = _sha(db_path)
    replace_in(knowledge_dir / "topics" / "vor-types.md", "review_every_days: 180", "review_every_days: often")
    with pytest.raises(KnowledgeBuildError):
        ensure_built(knowledge_dir, db_path, today=TODAY)
    assert _sha(db_path) == before


def test_ensure_built_replaces_an_unreadable_or_outdated_store(knowledge_dir: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "knowledge.db"
    db_path.write_bytes(b"this is not a database")
    assert stored_meta(db_path) is None
    assert ensure_built(knowledge_dir, db_path, today=TODAY) is True
    assert stored_meta(db_path) is not None

    with sqlite3.connect(db_path) as connection:  # as if built by an older layout
        connection.execute("UPDATE meta SET schema_version = 0")
    connection.close()
    assert ensure_built(knowledge_dir, db_path, today=TODAY) is True
    assert stored_meta(db_path)["schema_version"] == SCHEMA_VERSION  # type: ignore[index]
