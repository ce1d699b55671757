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


_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MIN_SENTENCE_WORDS = 5


def answer_sentences(answer: str) -> list[str]:
    """The answer's sentences as plain text (links and emphasis removed), skipping very short ones."""
    text = _MARKDOWN_LINK.sub(r"\1", answer or "").replace("**", "").replace("__", "")
    lines = [line.strip().lstrip("-*0123456789. ").strip() for line in text.splitlines()]
    sentences = [s.strip() for line in lines if line for s in _SENTENCE_END.split(line)]
    return [s for s in sentences if len(s.split()) >= MIN_SENTENCE_WORDS]


def training_examples(topics: Iterable[HasQuestions]) -> dict[str, list[str]]:
    """intent → what the classifier learns the topic from: its training questions, its title, its answer's sentences.

    Held-out questions are never included. Titles and answer sentences carry the topic's vocabulary (acronyms,
    names of programs and portals) that a dozen example questions cannot all contain; on the held-out questions
    they raised top-1 accuracy markedly (bench/eval.py). So an answer edit changes the training data too: the
    answer is live at once, and the model is retrained at the next `make run`.
    """
    topics = list(topics)
    train, _ = split_questions(topics)
    extras = {intent_for(topic.id): [e for e in [getattr(topic, "title", "") or "",
                                                  *answer_sentences(getattr(topic, "answer", "") or "")] if e]
              for topic in topics}
    # A sentence that two topics share (or that is another topic's question) would teach both; drop it.
    owners: dict[str, set[str]] = {}
    for intent, texts in [*train.items(), *extras.items()]:
        for text in texts:
            owners.setdefault(text.casefold(), set()).add(intent)
    examples: dict[str, list[str]] = {}
    for intent, questions in train.items():
        own = [e for e in extras.get(intent, []) if owners[e.casefold()] == {intent}]
        examples[intent] = list(dict.fromkeys([*questions, *own]))
    return examples


def questions_fingerprint(topics: Iterable[HasQuestions]) -> str:
    """sha256 of the training examples: when it changes, the trained model is out of date.

    The same formula as `bot.services.training_fingerprint` writes into models/latest.json (JSON of
    {intent: examples} with sorted keys), so the two can be compared; a test pins it.
    """
    return hashlib.sha256(json.dumps(training_examples(topics), sort_keys=True).encode()).hexdigest()
