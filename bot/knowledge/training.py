"""Topic ids ↔ Rasa intent names, the deterministic held-out split of example questions, and its fingerprint.

The classifier is trained on each topic's example questions minus a held-out sixth used to measure it. The
split is decided by a hash of each question, not by position or a random seed, so it is the same on every
machine and adding a question to one topic never reshuffles another.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Iterable, Protocol, Sequence

INTENT_PREFIX = "topic_"
HELD_OUT_ONE_IN = 6
MIN_TRAINING_QUESTIONS = 5
_INTENT_RE = re.compile(r"^topic_([a-z0-9]+(?:_[a-z0-9]+)*)$")


class HasQuestions(Protocol):
    id: str
    questions: Sequence[str]


def intent_for(topic_id: str) -> str:
    """The Rasa intent of a topic: "topic_" + id with "-" → "_" (vor-what-is → topic_vor_what_is)."""
    return INTENT_PREFIX + topic_id.replace("-", "_")


def topic_for_intent(intent: str | None) -> str | None:
    """The topic id of a topic intent, or None for any other intent (greet, out_of_scope, ...)."""
    match = _INTENT_RE.match(intent or "")
    return match.group(1).replace("_", "-") if match else None


def held_out_count(question_count: int) -> int:
    """How many of a topic's questions are held out: about one in six, always leaving at least five to train."""
    return max(0, min(question_count // HELD_OUT_ONE_IN, question_count - MIN_TRAINING_QUESTIONS))


def _rank(topic_id: str, question: str) -> str:
    # The topic id salts the hash so a question's fate does not depend on other topics; whitespace and case
    # are folded so retyping a question the same way keeps it on the same side.
    key = f"{topic_id}\n{' '.join(question.casefold().split())}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split_questions(topics: Iterable[HasQuestions]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(train, heldout): intent → questions; the held-out ones are those with the lowest hash in each topic.

    Questions keep their file order within each side. A topic with 6 questions keeps 5 and holds out 1.
    """
    train: dict[str, list[str]] = {}
    heldout: dict[str, list[str]] = {}
    for topic in topics:
        questions = list(dict.fromkeys(topic.questions))  # an exact repeat would land on both sides
        ranked = sorted(range(len(questions)), key=lambda i: (_rank(topic.id, questions[i]), i))
        held = set(ranked[: held_out_count(len(questions))])
        intent = intent_for(topic.id)
        train[intent] = [q for i, q in enumerate(questions) if i not in held]
        heldout[intent] = [q for i, q in enumerate(questions) if i in held]
    return train, heldout


def questions_fingerprint(topics: Iterable[HasQuestions]) -> str:
    """sha256 of the training questions: when it changes, the trained model is out of date.

    The same formula as `bot.services.training_fingerprint` writes into models/latest.json (JSON of
    {intent: questions} with sorted keys), so the two can be compared; a test pins it.
    """
    train, _ = split_questions(topics)
    return hashlib.sha256(json.dumps(train, sort_keys=True).encode()).hexdigest()
