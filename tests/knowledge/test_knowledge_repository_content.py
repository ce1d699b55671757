"""The real knowledge/ folder validates and builds (the only knowledge test that reads the real content)."""
from __future__ import annotations

from pathlib import Path

from bot import clock, settings
from bot.knowledge.build import build
from bot.knowledge.store import KnowledgeStore
from bot.knowledge.validate import validate


def test_knowledge_repository_content_is_valid(tmp_path: Path) -> None:
    knowledge_dir = settings.PROJECT_ROOT / "knowledge"
    problems = validate(knowledge_dir, today=clock.today())
    assert problems == [], "\n".join(str(p) for p in problems)

    db_path = tmp_path / "knowledge.db"
    result = build(knowledge_dir, db_path, today=clock.today())
    store = KnowledgeStore(db_path)
    assert result.topics == len(store.topics()) > 0
    first_id = store.topics()[0][0]
    assert store.get_topic(first_id)["answer"]  # type: ignore[index]
