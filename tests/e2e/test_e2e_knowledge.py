"""Knowledge edits go live in the running assistant without a retrain or restart; broken edits change nothing."""
from __future__ import annotations

import shutil
import time

import pytest

from bot import settings
from bot.knowledge.build import KnowledgeBuildError, build

pytestmark = pytest.mark.e2e

QUESTION = "what is a vendor of record arrangement"


@pytest.fixture
def knowledge_copy(tmp_path, stack):
    copy = tmp_path / "knowledge"
    shutil.copytree(settings.path("KNOWLEDGE_DIR"), copy)
    yield copy
    build(settings.path("KNOWLEDGE_DIR"), stack.data_dir / "knowledge.db")  # leave the real content serving


def _edit_answer(knowledge_dir, topic_id: str, new_first_line: str) -> None:
    path = knowledge_dir / "topics" / f"{topic_id}.md"
    text = path.read_text()
    front, body = text.split("\n---\n", 1)
    path.write_text(front + "\n---\n" + new_first_line + "\n\n" + body.lstrip())


def _answer_with_retry(chat, expected: str, seconds: float = 10) -> str:
    deadline = time.monotonic() + seconds
    while True:
        answer = chat.send(QUESTION)[-1]["text"]
        if expected in answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_an_answer_edit_is_served_without_retraining(stack, chat, knowledge_copy, trained_model):
    before = chat.send(QUESTION)[-1]["text"]
    assert "EDITED-FOR-TEST" not in before
    model_mtime = trained_model.stat().st_mtime

    _edit_answer(knowledge_copy, "vor-what-is", "EDITED-FOR-TEST: staff changed this answer.")
    build(knowledge_copy, stack.data_dir / "knowledge.db")

    assert "EDITED-FOR-TEST: staff changed this answer." in _answer_with_retry(chat, "EDITED-FOR-TEST")
    assert trained_model.stat().st_mtime == model_mtime
    assert stack.processes["rasa"].poll() is None and stack.processes["actions"].poll() is None


def test_a_broken_edit_keeps_the_last_good_store_serving(stack, chat, knowledge_copy):
    db = stack.data_dir / "knowledge.db"
    before_bytes = db.read_bytes()
    path = knowledge_copy / "topics" / "vor-what-is.md"
    path.write_text(path.read_text().replace("last_reviewed:", "last_reviewed: [not a date", 1))
    with pytest.raises(KnowledgeBuildError) as error:
        build(knowledge_copy, db)
    assert "topics/vor-what-is.md:" in str(error.value)
    assert db.read_bytes() == before_bytes
    assert "Source: [" in chat.send(QUESTION)[-1]["text"]
