"""Intent names, the deterministic hash-based held-out split, and the training-questions fingerprint."""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.knowledge.training import intent_for, questions_fingerprint, split_questions, topic_for_intent


@dataclass
class T:
    id: str
    questions: list[str] = field(default_factory=list)


def _topic(topic_id: str, n: int) -> T:
    return T(topic_id, [f"{topic_id} question number {i}" for i in range(n)])


def test_intent_names_round_trip() -> None:
    assert intent_for("vor-what-is") == "topic_vor_what_is"
    assert topic_for_intent("topic_vor_what_is") == "vor-what-is"
    assert topic_for_intent(intent_for("registration-canadabuys")) == "registration-canadabuys"
    for other in ("greet", "out_of_scope", "topic_", "topic__x", "Topic_vor", None, ""):
        assert topic_for_intent(other) is None


@pytest.mark.parametrize(("count", "kept", "held"), [(5, 5, 0), (6, 5, 1), (7, 6, 1), (11, 10, 1), (12, 10, 2),
                                                     (30, 25, 5)])
def test_about_one_in_six_is_held_out_and_at_least_five_kept(count: int, kept: int, held: int) -> None:
    train, heldout = split_questions([_topic("a-topic", count)])
    assert (len(train["topic_a_topic"]), len(heldout["topic_a_topic"])) == (kept, held)


def test_split_is_deterministic_and_independent_of_order() -> None:
    topics = [_topic("alpha", 13), _topic("beta", 6), _topic("gamma", 20)]
    first = split_questions(topics)
    assert split_questions(topics) == first
    shuffled = [T(t.id, random.Random(7).sample(t.questions, len(t.questions))) for t in reversed(topics)]
    train, heldout = split_questions(shuffled)
    assert {k: set(v) for k, v in heldout.items()} == {k: set(v) for k, v in first[1].items()}
    assert {k: set(v) for k, v in train.items()} == {k: set(v) for k, v in first[0].items()}


def test_editing_one_topic_does_not_move_questions_of_another() -> None:
    before = split_questions([_topic("alpha", 12), _topic("beta", 12)])[1]["topic_beta"]
    alpha = _topic("alpha", 12)
    alpha.questions.append("a brand new alpha question")
    assert split_questions([alpha, _topic("beta", 12)])[1]["topic_beta"] == before


@given(st.lists(st.text(min_size=1, max_size=30), min_size=6, max_size=40, unique=True))
def test_train_and_heldout_are_disjoint_and_cover_every_question(questions: list[str]) -> None:
    train, heldout = split_questions([T("t", questions)])
    kept, held = train["topic_t"], heldout["topic_t"]
    assert not set(kept) & set(held)
    assert sorted(kept + held) == sorted(questions)
    assert len(kept) >= 5 and len(held) == min(len(questions) // 6, len(questions) - 5)
    assert kept == [q for q in questions if q in kept]  # file order kept


def test_fingerprint_changes_with_training_questions_only() -> None:
    topics = [_topic("alpha", 6), _topic("beta", 7)]
    fingerprint = questions_fingerprint(topics)
    assert questions_fingerprint([_topic("alpha", 6), _topic("beta", 7)]) == fingerprint
    edited = [_topic("alpha", 6), _topic("beta", 7)]
    train, _ = split_questions(edited)
    edited[1].questions[edited[1].questions.index(train["topic_beta"][0])] = "a reworded question"
    assert questions_fingerprint(edited) != fingerprint
    assert questions_fingerprint([_topic("alpha", 6)]) != fingerprint  # a removed topic counts too


def test_fingerprint_matches_what_the_trainer_records() -> None:
    # bot.services writes sha256(json.dumps(train, sort_keys=True)) into models/latest.json; they must agree.
    topics = [_topic("alpha", 6), _topic("beta", 9)]
    train, _ = split_questions(topics)
    assert questions_fingerprint(topics) == hashlib.sha256(json.dumps(train, sort_keys=True).encode()).hexdigest()
