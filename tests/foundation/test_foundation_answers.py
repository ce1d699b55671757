"""How a knowledge topic becomes replies, and how fallback suggestions are chosen."""
import datetime as dt

from bot.answers import suggestions, topic_replies

TOPIC = {
    "id": "vor-what-is", "title": "What is a VOR?", "answer": "A VOR is ...",
    "next_steps": ["Register", "Watch for VOR calls"],
    "source": {"url": "https://example.org/vor", "title": "VOR page"},
    "last_reviewed": dt.date(2026, 6, 1), "review_every_days": 180,
    "related": [{"id": "vor-types", "title": "Types of VOR"}],
}


def test_a_current_topic_is_one_cited_answer_with_related_buttons():
    replies = topic_replies(TOPIC, today=dt.date(2026, 11, 27))  # 179 days later
    assert [r.response for r in replies] == ["utter_topic_answer"]
    answer = replies[0]
    assert answer.values["source_url"] == "https://example.org/vor"
    assert answer.values["last_reviewed"] == "2026-06-01"
    assert answer.values["next_steps"] == "- Register\n- Watch for VOR calls"
    assert answer.buttons == [{"title": "Types of VOR", "payload": "/topic_vor_types"}]


def test_an_overdue_topic_is_still_answered_after_a_visible_note():
    replies = topic_replies(TOPIC, today=dt.date(2026, 12, 1))  # 183 days later
    assert [r.response for r in replies] == ["utter_topic_stale", "utter_topic_answer"]
    assert replies[0].values["source_url"] == "https://example.org/vor"


def test_a_topic_without_next_steps_uses_the_short_answer():
    replies = topic_replies({**TOPIC, "next_steps": []}, today=dt.date(2026, 7, 1))
    assert replies[-1].response == "utter_topic_answer_short"


def test_suggestions_mix_classifier_ranking_and_full_text_search():
    titles = {"a": "A", "b": "B", "c": "C", "d": "D"}
    ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "topic_b", "confidence": 0.3},
               {"name": "greet", "confidence": 0.1}, {"name": "topic_a", "confidence": 0.08},
               {"name": "topic_c", "confidence": 0.07}]
    search = [("a", "A", 3.0), ("d", "D", 2.0), ("c", "C", 1.0)]
    buttons = suggestions(ranking, search, titles)
    assert [b["payload"] for b in buttons] == ["/topic_b", "/topic_a", "/topic_d"]


def test_suggestions_ignore_unknown_and_very_unlikely_topics():
    ranking = [{"name": "topic_gone", "confidence": 0.9}, {"name": "topic_a", "confidence": 0.01}]
    assert suggestions(ranking, [], {"a": "A"}) == []
