"""The read-only store: topic answers, live reload after a rebuild, and search that survives any user text."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.knowledge.build import build
from bot.knowledge.store import KnowledgeStore, KnowledgeUnavailable, UnknownTable, fts_query, get_store
from knowledge_helpers import TODAY, replace_in


@pytest.fixture
def db_path(knowledge_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "var" / "knowledge.db"
    build(knowledge_dir, path, today=TODAY)
    return path


@pytest.fixture
def store(db_path: Path) -> KnowledgeStore:
    return KnowledgeStore(db_path)


def test_get_topic_returns_what_an_answer_needs(store: KnowledgeStore) -> None:
    topic = store.get_topic("register-ontario")
    assert topic is not None
    assert topic["title"] == "How do I register to sell to Ontario ministries?"
    assert topic["answer"].startswith("Create a free account") and "Next steps" not in topic["answer"]
    assert topic["next_steps"][1] == "Watch for the next call for qualifications."
    assert topic["source"] == {"url": "https://www.ontario.ca/page/vendor-record-arrangements",
                               "title": "Vendor of Record arrangements (ontario.ca)"}
    assert topic["last_reviewed"] == dt.date(2026, 11, 1) and topic["review_every_days"] == 180
    assert topic["related"] == [
        {"id": "vor-what-is", "title": "What is a Vendor of Record (VOR) arrangement?"},
        {"id": "vor-types", "title": "What kinds of VOR arrangements are there?"},
    ]
    assert store.get_topic("no-such-topic") is None


def test_topics_lists_ids_and_titles(store: KnowledgeStore) -> None:
    assert [topic_id for topic_id, _ in store.topics()] == ["register-ontario", "vor-types", "vor-what-is"]


def test_missing_store_raises_a_named_error(tmp_path: Path) -> None:
    store = KnowledgeStore(tmp_path / "nowhere" / "knowledge.db")  # constructing does not touch the disk
    with pytest.raises(KnowledgeUnavailable, match="knowledge build"):
        store.get_topic("vor-types")


def test_a_file_that_is_not_a_store_raises_the_same_named_error(tmp_path: Path) -> None:
    path = tmp_path / "knowledge.db"
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(KnowledgeUnavailable):
        KnowledgeStore(path).topics()


def test_store_is_read_only(store: KnowledgeStore) -> None:
    store.topics()
    with pytest.raises(Exception, match="readonly"):
        store._connect().execute("DELETE FROM topics")


def test_same_instance_serves_the_rebuilt_store(knowledge_dir: Path, db_path: Path, store: KnowledgeStore) -> None:
    assert store.get_topic("vor-types")["answer"].startswith("There are enterprise-wide")  # type: ignore[index]
    replace_in(knowledge_dir / "topics" / "vor-types.md", "There are enterprise-wide arrangements",
               "Updated answer: enterprise-wide arrangements")
    build(knowledge_dir, db_path, today=TODAY)

    assert store.get_topic("vor-types")["answer"].startswith("Updated answer")  # type: ignore[index]
    assert store.search("updated")[0][0] == "vor-types"


def test_store_recovers_after_the_file_disappears_and_returns(knowledge_dir: Path, db_path: Path,
                                                              store: KnowledgeStore) -> None:
    store.topics()
    os.unlink(db_path)
    with pytest.raises(KnowledgeUnavailable):
        store.topics()
    build(knowledge_dir, db_path, today=TODAY)
    assert len(store.topics()) == 3


def test_search_finds_topics_by_question_and_title(store: KnowledgeStore) -> None:
    assert store.search("what is a VOR?")[0][0] == "vor-what-is"
    assert store.search("how do I sign up as a supplier")[0][0] == "register-ontario"
    assert store.search("kinds of arrangements")[0][0] == "vor-types"
    results = store.search("vor", limit=2)
    assert len(results) == 2 and all(score > 0 for _, _, score in results)
    assert [score for _, _, score in results] == sorted((s for _, _, s in results), reverse=True)
    assert store.search("zzzz qqqq") == []
    assert store.search("vor", limit=0) == []


HOSTILE = [
    '"', '""', "'", "*", "vor*", "NEAR(", "NEAR(vor register", "vor OR", "OR", "AND", "NOT", "vor AND NOT",
    "(((", ")))", "vor)", "(vor", "^vor", "title:vor", "-vor", "+", ":", "{vor register}", "vor NEAR/2 register",
    "\x00", "😀", "🇨🇦 vor 🎉", "'; DROP TABLE topics; --", "\\", "%", "_", "\u202e", "", "   ", "a" * 5000,
    " ".join(["vor"] * 500), "vör", "ÉQUIPEMENT", "請問", "questions_fts MATCH", '"vor" "', "vor\nregister",
]


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(t)[:24] for t in HOSTILE])
def test_search_is_safe_for_hostile_text(store: KnowledgeStore, text: str) -> None:
    results = store.search(text)
    assert isinstance(results, list) and len(results) <= 3
    assert all(isinstance(t, str) and isinstance(title, str) and score > 0 for t, title, score in results)


def test_fts_syntax_is_searched_as_plain_words(store: KnowledgeStore) -> None:
    # Unquoted, `vor*` would be a prefix query and `NEAR(` a syntax error; quoted, they are just the word "vor".
    assert store.search("vor*") == store.search("vor")
    assert store.search('NEAR("vor"') == store.search("near vor")
    assert fts_query('say "hi" NEAR(x) OR *') == '"say" OR "hi" OR "near" OR "x"'
    assert fts_query("the a an") == '"the" OR "a" OR "an"'  # only stop words: keep them rather than nothing
    assert fts_query("🎉 !!") is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200), limit=st.integers(-2, 10))
def test_search_never_raises_on_random_text(store: KnowledgeStore, text: str, limit: int) -> None:
    results = store.search(text, limit=limit)
    assert len(results) <= max(limit, 0)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(['"', "*", "(", ")", "NEAR", "OR", "AND", "NOT", ":", "^", "vor", "-", "{"]),
                      max_size=12))
def test_search_never_raises_on_fts_operator_soup(store: KnowledgeStore, words: list[str]) -> None:
    assert isinstance(store.search(" ".join(words)), list)
    assert isinstance(store.search("".join(words)), list)


def test_table_rejects_unknown_names(store: KnowledgeStore) -> None:
    assert [row["term"] for row in store.table("glossary")] == ["RFP"]
    with pytest.raises(UnknownTable):
        store.table("topics; DROP TABLE meta")


def test_get_store_is_cached_and_uses_the_data_dir(data_dir: Path, knowledge_dir: Path) -> None:
    get_store.cache_clear()
    try:
        build(knowledge_dir, data_dir / "knowledge.db", today=TODAY)
        store = get_store()
        assert get_store() is store
        assert store.db_path == data_dir / "knowledge.db"
        assert len(store.topics()) == 3
    finally:
        get_store.cache_clear()
